#pragma once
// The layout the CUDA kernels of the compressed E8 shell linear read, made
// from a checkpoint's codes at load time (the checkpoint itself keeps the
// reference's layout, byte for byte). It is the tensor-core matvec's operand
// order: one 16-byte load per lane and block gives the lane its A-fragment
// codes of two k-steps for a tile of 32 rows.
//
//   codes[rt][s][kb][lane][k],  lane = 4·g + t,  k = 4·ks + q
//     = order.code_of[ qidxs_s[32·rt + 8·q + g][8·kb + 4·ks + t] ]
//
// uint16 inference codes (e8_signed_order.h) of stage s, row tile rt (32
// rows), block kb of 8 column groups (64 columns); g = groupID and t =
// threadID_in_group of the mma.m16n8k32 fragments, ks the k-step (32 columns)
// and q the row octet (rows g, g+8 of the first m16 tile, g+16, g+24 of the
// second). Rows and column groups past the matrix are padded with the code of
// the zero point. The inverse exists so that a test can prove the re-laid
// layer holds exactly the checkpoint's codes.

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace glq::format {

// int16 (uint16 bit patterns) CPU tensor [RT, S, KB, 32, 8] from per-stage
// int16 [m, n/8] reference-order codes (any device).
torch::Tensor relay_shell_codes(const std::vector<torch::Tensor>& qidxs);
// The reference-order int16 [m, n/8] codes per stage back from the layout.
std::vector<torch::Tensor> unrelay_shell_codes(const torch::Tensor& relaid, int64_t m, int64_t n);
// The inference code of the zero point (the padding).
uint16_t shell_zero_code();
// The signed-order table, int32 [37096], on `device` (made once per device).
torch::Tensor shell_signed_table_on(const torch::Device& device);

} // namespace glq::format
