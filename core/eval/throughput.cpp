#include "core/eval/throughput.h"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>
#include <chrono>

#include "core/model/decode_step.h"

#include "core/common/error.h"
#include "core/model/device_memory.h"
#include "core/model/generator.h"

namespace glq::eval {

double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

namespace {

// B rows decode together through the decode step (a CUDA graph on CUDA).
void measure_batched_decode(model::Transformer& model, const ThroughputOptions& options, const torch::Tensor& prompt,
                            ThroughputResult& result) {
    torch::NoGradGuard no_grad;
    const int64_t B = options.batch, P = options.prompt_tokens, N = options.new_tokens;
    const torch::Device device = model.device();
    const torch::Tensor ids = prompt.view({1, P}).expand({B, P}).contiguous().to(device);
    result.batch = B;
    auto sync = [&] {
#ifdef GLQ_WITH_CUDA
        if (device.is_cuda()) torch::cuda::synchronize(device.index());
#endif
    };
    for (int64_t run = 0; run < options.warmup + options.repeats; ++run) {
        if (options.cancel) options.cancel->check();
        model::KVCache cache = model.new_cache(B, P + N);
        torch::Tensor next = model.forward(ids, &cache, 0, /*last_only=*/true).squeeze(1).argmax(-1);
        model::DecodeStep step(model, cache, options.use_cuda_graph);
        next = step.run(next, P).argmax(-1);  // capture (on CUDA) outside the timing
        sync();
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t pos = P + 1; pos < P + N; ++pos) next = step.run(next, pos).argmax(-1);
        sync();
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (run >= options.warmup) result.batched_decode_runs.push_back(static_cast<double>(B * (N - 1)) / s);
    }
    result.batched_decode_tokens_per_second = median(result.batched_decode_runs);
}

} // namespace

ThroughputResult measure_throughput(model::Transformer& model, const ThroughputOptions& options) {
    if (options.prompt_tokens < 1) throw Error("--prompt-tokens", "must be at least 1");
    if (options.new_tokens < 2) throw Error("--new-tokens", "must be at least 2 (decode speed needs a step)");
    if (options.repeats < 1) throw Error("--repeats", "must be at least 1");
    if (options.warmup < 0) throw Error("warm-up runs", "must not be negative");
    const int64_t context = model.config().max_position_embeddings;
    if (options.prompt_tokens + options.new_tokens > context)
        throw Error("benchmark", "prompt + new tokens (" + std::to_string(options.prompt_tokens + options.new_tokens) +
                                     ") exceed the model's context of " + std::to_string(context));

    // A fixed random prompt: the speed of a dense model does not depend on the ids.
    auto generator_rng = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    const torch::Tensor random_ids =
        torch::randint(model.config().vocab_size, {options.prompt_tokens}, generator_rng, torch::kInt64);
    const std::vector<int32_t> prompt(random_ids.data_ptr<int64_t>(), random_ids.data_ptr<int64_t>() + options.prompt_tokens);

    model::Generator generator(model, nullptr);
    model::GenerationParams params;
    params.max_new_tokens = options.new_tokens;
    params.use_cuda_graph = options.use_cuda_graph;  // greedy, no eos: always exactly new_tokens

    ThroughputResult result;
    result.prompt_tokens = options.prompt_tokens;
    result.new_tokens = options.new_tokens;
    result.repeats = options.repeats;
    std::vector<double> ttft;
    Progress progress{"benchmark", "", 0, options.warmup + options.repeats, "runs"};
    for (int64_t run = 0; run < options.warmup + options.repeats; ++run) {
        if (options.cancel) options.cancel->check();
        progress.item = run < options.warmup ? "warm-up" : "run " + std::to_string(run - options.warmup + 1);
        if (options.progress) options.progress(progress);
        generator.reset();  // prefill the whole prompt every run
        const model::GenerationResult r = generator.generate(prompt, params);
        if (run >= options.warmup) {
            result.prefill_runs.push_back(r.stats.prefill_tokens_per_second);
            result.decode_runs.push_back(r.stats.decode_tokens_per_second);
            ttft.push_back(r.stats.time_to_first_token);
            result.peak_memory_bytes = std::max(result.peak_memory_bytes, r.stats.peak_memory_bytes);
            result.cuda_graph = r.stats.cuda_graph;
        }
        progress.done = run + 1;
        if (options.progress) options.progress(progress);
    }
    result.prefill_tokens_per_second = median(result.prefill_runs);
    result.decode_tokens_per_second = median(result.decode_runs);
    result.time_to_first_token = median(ttft);
    result.cuda_graph_fallback = generator.cuda_graph_fallback_reason();
    if (options.batch > 1) measure_batched_decode(model, options, random_ids, result);
    return result;
}

} // namespace glq::eval
