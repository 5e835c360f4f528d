#pragma once
// The sensitivity table the plots and the bpw editor read: the very table
// `glqw profile` writes and `glqw allocate` reads (core/plan/sensitivity.h,
// in the torch-free glq_plan library ui/ links), under the names ui/ uses.
// A layer may lack some bpw (a profiling pass may measure only 2 bpw); the
// bpw editor then predicts the missing ones (core/plan/budget.h).

#include "core/plan/sensitivity.h"

namespace glq::ui {

constexpr int kMinBpw = plan::kSensitivityMinBpw;
constexpr int kMaxBpw = plan::kSensitivityMaxBpw;

using LayerSensitivity = plan::LayerSensitivity;
using SensitivityTable = plan::SensitivityTable;

} // namespace glq::ui
