#pragma once
// What the quantizer measured for one linear layer. The checkpoint's
// layer_metrics.json records part of it (sqnr, bpw, Wscale, proxy losses,
// shape); the quantization job's resume store keeps all of it.

#include <cstdint>

namespace glq::format {

// How the Hessian had to be regularised before it factorised.
enum class DampingTier { Normal = 0, Heavy = 1, Identity = 2 };

struct LayerQuantMetrics {
    int bpw = 2;
    int64_t rows = 0, cols = 0;
    double proxy_loss = 0.0;           // tr(ΔW~·H~·ΔW~ᵀ)/m, H~ damped once (the reference's metric)
    double relative_proxy_loss = 0.0;  // proxy_loss / (tr(W~·H~·W~ᵀ)/m)
    double sqnr_db = 0.0;              // 10·log10(Σ W² / Σ (W - Ŵ)²), original domain
    double mse = 0.0;                  // mean((W - Ŵ)²)
    double wscale = 1.0;
    DampingTier damping_tier = DampingTier::Normal;
    double seconds = 0.0;
};

} // namespace glq::format
