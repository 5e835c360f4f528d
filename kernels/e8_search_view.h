#pragma once
// The raw-pointer view of the search tables that the shared per-vector search
// routine (cpu/e8_search_impl.h) reads, on the CPU and in the CUDA kernel alike.

#include "kernels/cpu/e8_search_impl.h"
#include "kernels/e8_search.h"

namespace glq::kernels {

inline e8::SearchView search_view_of(const E8SearchTables& t) {
    e8::SearchView v{};
    v.packed = reinterpret_cast<const uint32_t*>(t.packed.data_ptr<int32_t>());
    v.keys = reinterpret_cast<const uint32_t*>(t.keys.data_ptr<int32_t>());
    v.key_rows = t.key_rows.data_ptr<int32_t>();
    v.groups = t.groups.data_ptr<int32_t>();
    v.group_rows = t.group_rows.data_ptr<int32_t>();
    v.size = static_cast<int32_t>(t.size);
    v.num_groups = static_cast<int32_t>(t.groups.size(0));
    return v;
}

} // namespace glq::kernels
