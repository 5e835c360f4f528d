// The per-layer step of the quantization job (see layer_step.h).

#include "core/quant/layer_step.h"

#include <optional>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/plan/module_name.h"
#include "core/quant/job_callbacks.h"
#include "core/quant/layer_streaming.h"
#include "core/quant/quantize_layer.h"

namespace glq::quant {

using namespace detail;

int64_t weights_of(const model::Transformer& model, const std::string& prefix) {
    const auto op = model.linear(prefix);
    return op->out_features() * op->in_features();
}

const model::DenseLinear& dense_of(const model::Transformer& model, const std::string& prefix) {
    const auto op = model.linear(prefix);
    const auto* dense = dynamic_cast<const model::DenseLinear*>(op.get());
    if (!dense) throw Error(prefix, "is not a dense linear (" + op->kind() + ")");
    return *dense;
}

torch::Tensor quantize_decoder_layer(const LayerStep& step, int64_t layer, const torch::Tensor& hidden,
                                     WeightProgress& progress, QuantizationSummary& summary,
                                     format::GlqCheckpointContents& contents) {
    model::Transformer& model = step.model;
    const QuantizationJobOptions& o = step.options;
    const QuantizationCallbacks& cb = step.callbacks;
    int64_t& done = progress.done;
    const int64_t total = progress.total;
    torch::Tensor next = hidden;
    std::vector<std::string> mine;
    for (const std::string& prefix : step.prefixes)
        if (plan::layer_index_of(prefix).value_or(-1) == layer) mine.push_back(prefix);
    with_layer_on_device(model, layer, [&] {
        // Finished linears of this layer from an earlier run.
        std::map<std::string, QuantizedLayer> results;
        for (const std::string& prefix : mine)
            if (auto q = step.resume.load(prefix, model.device())) results.emplace(prefix, std::move(*q));
        const std::string hessians = "layer " + std::to_string(layer) + ": Hessians";
        const auto windows_of = [&](const std::string& what) {
            return window_progress(cb, "quantize", what, done, total, "weights");
        };
        const std::string forward = "layer " + std::to_string(layer) + ": forward";
        std::optional<LayerHessians> h;
        torch::Tensor dense_next;
        if (results.size() < mine.size()) {
            report(cb, "quantize", hessians, done, total, "weights");
            const std::string rates =
                o.propagate ? rates_key_before(step.prefixes, step.plan, layer, o.tune_iters) : "dense";
            h = step.hessians.layer(model, layer, hidden, rates, o.propagate ? nullptr : &dense_next,
                                    windows_of(hessians), cb.cancel, cb.log);
        }
        for (const std::string& prefix : mine) {
            check_cancel(cb);
            const int64_t weights = weights_of(model, prefix);
            report(cb, "quantize", prefix, done, total, "weights");
            LayerResult r;
            r.prefix = prefix;
            r.bpw = step.plan.at(prefix);
            auto it = results.find(prefix);
            if (it != results.end()) {
                r.resumed = true;
                ++summary.resumed_linears;
            } else {
                const model::DenseLinear& dense = dense_of(model, prefix);
                LayerQuantOptions lo;
                lo.codebook = o.codebook;
                lo.bpw = r.bpw;
                lo.tune_iters = tune_iters_for(o.tune_iters, r.bpw);
                lo.cancel = cb.cancel;
                lo.progress = [&](const Progress& ldlq) {
                    if (ldlq.total > 0)
                        report(cb, "quantize", prefix, done + weights * ldlq.done / ldlq.total, total, "weights");
                };
                QuantizedLayer q = quantize_layer(dense.weight().to(torch::kFloat32), h->for_linear(prefix), lo,
                                                  dense.bias().defined() ? dense.bias().to(torch::kFloat32)
                                                                         : torch::Tensor());
                step.resume.save(prefix, q.codes, q.metrics);
                it = results.emplace(prefix, std::move(q)).first;
            }
            const LayerQuantMetrics& m = it->second.metrics;
            r.proxy_loss = m.proxy_loss;
            r.relative_error = m.relative_proxy_loss;
            r.seconds = m.seconds;
            summary.layers.push_back(r);
            if (cb.on_layer) cb.on_layer(r);
            done += weights;
            report(cb, "quantize", prefix, done, total, "weights");
        }
        const bool last = layer + 1 == model.num_layers();
        // Without propagation the next layer's inputs are this layer's
        // dense outputs. When every linear came from the resume folder no
        // Hessians were captured, so they were not produced on the way:
        // run the layer now, while it is still dense.
        if (!o.propagate && !last && !dense_next.defined())
            dense_next = run_layer(model, layer, hidden, cb.cancel, windows_of(forward));
        // Write Ŵ back (dense, model dtype) and produce the next layer's inputs.
        for (const std::string& prefix : mine) {
            QuantizedLayer& q = results.at(prefix);
            std::optional<torch::Tensor> bias;
            const model::DenseLinear& dense = dense_of(model, prefix);
            if (dense.bias().defined()) bias = dense.bias();
            auto op = std::make_shared<model::DenseLinear>(q.w_hat.to(model.dtype()), bias);
            contents.metrics.emplace(prefix, q.metrics);
            contents.layers.emplace(prefix, std::move(q.codes));
            model.replace_linear(prefix, op);
        }
        if (!last) next = o.propagate ? run_layer(model, layer, hidden, cb.cancel, windows_of(forward)) : dense_next;
    });
    return next;
}

} // namespace glq::quant
