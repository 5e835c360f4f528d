#pragma once
// What an HF module name says about itself, read in one place: the decoder
// layer (transformer block) it belongs to and which projection it is. The
// quantizer, the planner and the GUI all read names such as
// "model.layers.12.mlp.up_proj" through these two functions. Plain C++.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glq::plan {

// The block index of a module inside a decoder layer: the number N of the
// first "layers.N." in the name, where "layers" is a whole dotted component
// (at the start or after a '.') and N is 1 to 9 decimal digits.
// "model.layers.12.mlp.up_proj" -> 12; "lm_head", "model.layers.x.q_proj",
// "model.layers.12" (no module inside it) and a 30-digit run -> nullopt.
std::optional<int64_t> layer_index_of(std::string_view module_name);

// The seven projections GLQ quantizes, by the name's last dotted component
// (a trailing ".weight" is ignored): q_proj -> Q, ..., down_proj -> Down;
// anything else -> Other.
enum class Projection { Q, K, V, O, Gate, Up, Down, Other };
Projection projection_of(std::string_view module_name);
// "q", "k", "v", "o", "gate", "up", "down", "other".
const char* projection_short_name(Projection projection);
// "q_proj", ..., "down_proj"; "" for Other.
const char* projection_module_name(Projection projection);

// The projection whose input `module_name` shares, and so whose Hessian it
// uses: k_proj and v_proj take q_proj's (the attention input), up_proj takes
// gate_proj's (the MLP input); every other module is its own owner.
std::string input_owner(const std::string& module_name);

} // namespace glq::plan
