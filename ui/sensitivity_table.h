#pragma once
// The sensitivity table the plots and the bpw editor read: the very table
// `glqw profile` writes and `glqw allocate` reads (core/quant/sensitivity.h,
// in the torch-free glq_plan library ui/ links), under the names ui/ uses.
// A layer may lack some bpw (a profiling pass may measure only 2 bpw); the
// bpw editor then predicts the missing ones (see bpw_budget.h).

#include "core/quant/sensitivity.h"

namespace glq::ui {

constexpr int kMinBpw = quant::kSensitivityMinBpw;
constexpr int kMaxBpw = quant::kSensitivityMaxBpw;

using LayerSensitivity = quant::LayerSensitivity;
using SensitivityTable = quant::SensitivityTable;

} // namespace glq::ui
