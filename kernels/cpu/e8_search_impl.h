#pragma once
// Exact nearest-codeword search in the reference's truncated E8 codebook,
// written once for the CPU (kernels/cpu/e8_search.cpp) and the GPU
// (kernels/cuda/e8_nearest.cu), so both give bit-identical answers.
// Plain C++ on raw pointers: no LibTorch here, and every function is
// __host__ __device__ under nvcc.
//
// The score of codeword c for input x is  d(c) = |c|² − 2·Σ_t x_t·c_t,
// evaluated in double in coordinate order t = 0..7 (|x|² is common to all
// codewords and dropped). For float32 inputs every product x_t·c_t is exact
// in double (c_t is a half-integer ≤ 3), so scores are exact for all
// practical inputs and a "tie" means a tie of real distances. The winner is
// the lowest score, and among equal scores the lowest row index: that is
// what the brute-force reference (e8_bruteforce_one) computes.
//
// Search, per vector:
//  1. Lattice decoding (Conway & Sloane, "Fast quantizing and decoding
//     algorithms for lattice quantizers", 1982): the nearest point of D8 and
//     of D8 + ½·1, and the nearer of the two, is the nearest E8 point. If it
//     is in the codebook (binary search of its packed key) and no tie was met
//     on the way, it is the answer: O(1) work.
//  2. Otherwise (the nearest lattice point lies beyond the truncated shells,
//     or x sits on a Voronoi boundary) an exact search by orbits: the
//     codebook's rows are grouped by their sorted absolute values ("leader");
//     each group lies in one orbit of signed coordinate permutations (even
//     sign changes for half-integer points). The best point of a whole orbit
//     for x follows from the rearrangement inequality (pair the sorted |x_t|
//     with the sorted leader, signs from x; fix the half-integer parity by
//     flipping the smallest product), which gives each group a lower bound
//     on its score. Groups are visited by increasing bound until the bound
//     exceeds the best score found; a group's optimum is taken from the key
//     table when it is present and unique. Groups whose optimum is missing
//     from a partly kept orbit (shell 12) or ambiguous (ties) are settled
//     exactly by enumerating the lattice points of the ball that can still
//     beat the best score (when that ball is small) or by scoring their rows.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GLQ_E8_HD __host__ __device__ __forceinline__
#else
#define GLQ_E8_HD inline
#endif

namespace glq::kernels::e8 {

// Group table layout: one row of kGroupFields int32 per leader.
constexpr int kGroupNorm4 = 0;     // Σ (2c_t)², i.e. 4·|c|²
constexpr int kGroupIsHalf = 1;    // 1 for D8 + ½ points
constexpr int kGroupBegin = 2;     // first entry in group_rows
constexpr int kGroupCount = 3;     // rows of the group kept in the codebook
constexpr int kGroupLeader = 4;    // 8 doubled absolute values, descending
constexpr int kGroupFields = 12;
constexpr int kMaxGroups = 64;     // the full table has 24 leaders

// Raw views of the search tables (built by core/quant/e8_lattice.cpp).
struct SearchView {
    const uint32_t* packed;      // [size] rows: nibble t = 2·c_t + 6
    const uint32_t* keys;        // [size] the packed rows, ascending
    const int32_t* key_rows;     // [size] row index of keys[i]
    const int32_t* groups;       // [num_groups * kGroupFields]
    const int32_t* group_rows;   // [size] rows ordered by group, ascending within one
    int32_t size;                // codebook rows searched (a prefix of the table)
    int32_t num_groups;
};

GLQ_E8_HD double score_c2(const double* x, const int* c2) {
    double dot = 0.0;
    int norm4 = 0;
    for (int t = 0; t < 8; ++t) {
        dot += x[t] * (0.5 * c2[t]);
        norm4 += c2[t] * c2[t];
    }
    return 0.25 * norm4 - 2.0 * dot;
}

GLQ_E8_HD void unpack_c2(uint32_t word, int* c2) {
    for (int t = 0; t < 8; ++t) c2[t] = static_cast<int>((word >> (4 * t)) & 0xFu) - 6;
}

GLQ_E8_HD double score_row(const double* x, uint32_t word) {
    int c2[8];
    unpack_c2(word, c2);
    return score_c2(x, c2);
}

// Packs doubled coordinates; false when one is outside the codebook's range.
GLQ_E8_HD bool pack_c2(const int* c2, uint32_t* word) {
    uint32_t w = 0;
    for (int t = 0; t < 8; ++t) {
        if (c2[t] < -6 || c2[t] > 6) return false;
        w |= static_cast<uint32_t>(c2[t] + 6) << (4 * t);
    }
    *word = w;
    return true;
}

GLQ_E8_HD int32_t lookup(const SearchView& v, uint32_t key) {
    int32_t lo = 0, hi = v.size;
    while (lo < hi) {
        const int32_t mid = (lo + hi) >> 1;
        if (v.keys[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return (lo < v.size && v.keys[lo] == key) ? v.key_rows[lo] : -1;
}

GLQ_E8_HD void consider(const SearchView& v, const double* x, int32_t row, double* best, int32_t* best_row) {
    const double d = score_row(x, v.packed[row]);
    if (d < *best || (d == *best && row < *best_row)) {
        *best = d;
        *best_row = row;
    }
}

// Nearest point of D8 to y, as integers. Sets *tie when another D8 point may
// be equally near (a coordinate exactly halfway, or a tie for the parity fix).
GLQ_E8_HD void decode_d8(const double* y, int* f, bool* tie) {
    double err[8];
    int sum = 0;
    for (int t = 0; t < 8; ++t) {
        const double r = ::rint(y[t]);
        f[t] = static_cast<int>(r);
        err[t] = y[t] - r;  // exact: |y| is bounded by the caller
        if (::fabs(err[t]) == 0.5) *tie = true;
        sum += f[t];
    }
    if (sum & 1) {
        int k = 0;
        for (int t = 1; t < 8; ++t)
            if (::fabs(err[t]) > ::fabs(err[k])) k = t;
        for (int t = 0; t < 8; ++t)
            if (t != k && ::fabs(err[t]) == ::fabs(err[k])) *tie = true;
        f[k] += err[k] >= 0.0 ? 1 : -1;
    }
}

// Nearest E8 point (doubled coordinates) by the two coset decoders. Returns
// false when the decoder is not applicable (huge coordinates). *tie as above.
GLQ_E8_HD bool decode_e8(const double* x, int* c2, bool* tie) {
    for (int t = 0; t < 8; ++t)
        if (!(::fabs(x[t]) < 1.0e6)) return false;
    int a[8], b[8];
    double shifted[8];
    bool tie_a = false, tie_b = false;
    decode_d8(x, a, &tie_a);
    for (int t = 0; t < 8; ++t) shifted[t] = x[t] - 0.5;  // exact for |x| < 1e6 from float32
    decode_d8(shifted, b, &tie_b);
    for (int t = 0; t < 8; ++t) {
        a[t] *= 2;
        b[t] = 2 * b[t] + 1;
    }
    const double da = score_c2(x, a), db = score_c2(x, b);
    const int* win = da <= db ? a : b;
    *tie = (da == db) || (da < db ? tie_a : tie_b);
    for (int t = 0; t < 8; ++t) c2[t] = win[t];
    return true;
}

// Considers every E8 point c of the codebook with |x − c|² <= r2, by a
// depth-first enumeration of each coset (Z⁸ and Z⁸ + ½, even coordinate
// sum) coordinate by coordinate, pruned by the remaining distance budget and
// by the codebook's radius (|c|² <= 12, |c_t| <= 3). The ball shrinks as the
// best score improves (a partial distance above best + |x|² cannot win; equal
// ones are kept for the lowest-index rule). xx = |x|².
GLQ_E8_HD void enumerate_ball(const SearchView& v, const double* x, double xx, double r2, double* best,
                              int32_t* best_row) {
    constexpr int kMaxNorm4 = 48;  // 4 · 12
    for (int h = 0; h < 2; ++h) {
        int c[8], hi[8], rn[9];
        double rd[9];
        rd[0] = r2;
        rn[0] = kMaxNorm4;
        int t = 0;
        bool init = true;
        while (t >= 0) {
            if (init) {  // the range of c_t (doubled) given the budgets left
                const double s = ::sqrt(rd[t] > 0.0 ? rd[t] : 0.0);
                int lo = static_cast<int>(::ceil(2.0 * (x[t] - s)));
                int up = static_cast<int>(::floor(2.0 * (x[t] + s)));
                int nmax = 0;
                while ((nmax + 1) * (nmax + 1) <= rn[t]) ++nmax;
                if (nmax > 6) nmax = 6;
                if (lo < -nmax) lo = -nmax;
                if (up > nmax) up = nmax;
                if (((lo - h) & 1) != 0) ++lo;
                c[t] = lo;
                hi[t] = up;
                init = false;
            }
            if (c[t] > hi[t]) {
                if (--t >= 0) c[t] += 2;
                continue;
            }
            const double diff = x[t] - 0.5 * c[t];
            const double d = rd[t] - diff * diff;
            const int n = rn[t] - c[t] * c[t];
            if (d < 0.0 || n < 0 || r2 - d > *best + xx + 1.0e-9 * (1.0 + xx)) {
                c[t] += 2;
                continue;
            }
            if (t == 7) {
                int sum = 0;
                for (int i = 0; i < 8; ++i) sum += c[i];
                uint32_t key;
                if ((sum & 3) == 0 && pack_c2(c, &key)) {
                    const int32_t row = lookup(v, key);
                    if (row >= 0) consider(v, x, row, best, best_row);
                }
                c[t] += 2;
                continue;
            }
            rd[t + 1] = d;
            rn[t + 1] = n;
            ++t;
            init = true;
        }
    }
}

// The exact orbit search of step 2 (see the file comment).
GLQ_E8_HD int32_t search_groups(const SearchView& v, const double* x) {
    // |x| sorted descending (stable), with the original positions.
    double a[8];
    int pos[8];
    for (int t = 0; t < 8; ++t) {
        const double at = ::fabs(x[t]);
        int i = t;
        while (i > 0 && a[i - 1] < at) {
            a[i] = a[i - 1];
            pos[i] = pos[i - 1];
            --i;
        }
        a[i] = at;
        pos[i] = t;
    }

    double bound[kMaxGroups];
    uint32_t best_key[kMaxGroups];
    bool exact_key[kMaxGroups];  // key is the group's unique optimum
    int order[kMaxGroups];
    const int ng = v.num_groups < kMaxGroups ? v.num_groups : kMaxGroups;
    for (int g = 0; g < ng; ++g) {
        const int32_t* G = v.groups + g * kGroupFields;
        const int32_t* L = G + kGroupLeader;
        bool ambiguous = false;
        int c2[8];
        double dot2 = 0.0;  // Σ a_i·L2_i  (= 2·max x·c)
        int parity = 0;
        for (int i = 0; i < 8; ++i) {
            if (L[i] != 0 && a[i] == 0.0) ambiguous = true;                        // free sign
            if (i > 0 && a[i] == a[i - 1] && L[i] != L[i - 1]) ambiguous = true;    // free order
            const int s = x[pos[i]] < 0.0 ? -1 : 1;
            c2[pos[i]] = s * L[i];
            parity += s * L[i];
            dot2 += a[i] * L[i];
        }
        if (G[kGroupIsHalf] && (((parity % 4) + 4) % 4) != 0) {
            // Odd sum: the best even point flips the smallest product a_7·L_7.
            if (a[6] * L[6] == a[7] * L[7]) ambiguous = true;
            c2[pos[7]] = -c2[pos[7]];
            dot2 -= 2.0 * a[7] * L[7];
        }
        bound[g] = 0.25 * G[kGroupNorm4] - dot2;
        exact_key[g] = !ambiguous && pack_c2(c2, &best_key[g]);
        int i = g;  // insertion sort by bound
        while (i > 0 && bound[order[i - 1]] > bound[g]) {
            order[i] = order[i - 1];
            --i;
        }
        order[i] = g;
    }

    double best = 1.0e300;
    int32_t best_row = -1;
    bool deferred[kMaxGroups];
    int64_t deferred_rows = 0;
    for (int k = 0; k < ng; ++k) deferred[k] = false;
    for (int k = 0; k < ng; ++k) {
        const int g = order[k];
        // The bound is summed in another order than the scores: allow for
        // rounding so that a group that might tie is still visited.
        if (bound[g] > best + 1.0e-9 * (1.0 + ::fabs(best))) break;
        if (exact_key[g]) {
            const int32_t row = lookup(v, best_key[g]);
            if (row >= 0) {
                consider(v, x, row, &best, &best_row);
                continue;
            }
        }
        deferred[g] = true;
        deferred_rows += v.groups[g * kGroupFields + kGroupCount];
    }
    if (deferred_rows == 0) return best_row;

    // Some group's optimum is missing or ambiguous. Every row that can still
    // win scores <= best, i.e. lies in the ball |x - c|² <= best + |x|²:
    // enumerate the lattice points of that ball (cheap when it is small), or
    // else scan the deferred groups' rows.
    double xx = 0.0;
    for (int t = 0; t < 8; ++t) xx += x[t] * x[t];
    if (best < 1.0e299 && xx < 1.0e6) {
        const double r2 = best + xx + 1.0e-9 * (1.0 + xx);
        const double r8 = r2 * r2 * r2 * r2;
        // Z^8-points of both cosets in the ball (volume π⁴/24·r⁸ ≈ 4.06·r⁸ each),
        // at most the ~600 per coset of the codebook's own ball; ~4 times the
        // work of scoring one row each.
        const double leaves = 8.12 * (r8 < 144.0 ? r8 : 144.0);
        if (leaves * 4.0 < static_cast<double>(deferred_rows)) {
            enumerate_ball(v, x, xx, r2, &best, &best_row);
            return best_row;
        }
    }
    for (int g = 0; g < ng; ++g) {
        if (!deferred[g]) continue;
        const int32_t* G = v.groups + g * kGroupFields;
        for (int32_t j = 0; j < G[kGroupCount]; ++j) consider(v, x, v.group_rows[G[kGroupBegin] + j], &best, &best_row);
    }
    return best_row;
}

// Nearest codeword row for one vector (x: 8 doubles).
// Step 1 alone: the row of the nearest lattice point when that settles the
// search (in the codebook, no tie met), else -1.
GLQ_E8_HD int32_t lattice_row(const SearchView& v, const double* x) {
    int c2[8];
    bool tie = false;
    if (decode_e8(x, c2, &tie) && !tie) {
        uint32_t key;
        if (pack_c2(c2, &key)) return lookup(v, key);
    }
    return -1;
}

GLQ_E8_HD int32_t nearest_one(const SearchView& v, const double* x) {
    const int32_t row = lattice_row(v, x);
    return row >= 0 ? row : search_groups(v, x);
}

// Reference: every row of the prefix, lowest score, lowest row on ties.
GLQ_E8_HD int32_t bruteforce_one(const uint32_t* packed, int32_t size, const double* x) {
    double best = 1.0e300;
    int32_t best_row = -1;
    for (int32_t r = 0; r < size; ++r) {
        const double d = score_row(x, packed[r]);
        if (d < best) {
            best = d;
            best_row = r;
        }
    }
    return best_row;
}

} // namespace glq::kernels::e8
