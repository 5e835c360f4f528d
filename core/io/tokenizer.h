#pragma once
// tokenizer.json (HF `tokenizers` format) in plain C++: BPE with merges,
// byte-level and Metaspace/SentencePiece styles, the Split pre-tokenizers of
// GPT-2 / Llama-3 / Qwen2 (Unicode classes), normalizers, added/special
// tokens and decoders. Ids must equal those of the HF `tokenizers` package.
//
// Supported components (anything else is refused at load with a glq::Error
// naming the file and the component):
//   model          BPE (merges as "a b" or ["a","b"]; unk_token, fuse_unk,
//                  byte_fallback, ignore_merges, continuing_subword_prefix,
//                  end_of_word_suffix)
//   normalizer     NFC, Prepend, Replace (String), Lowercase, Strip, ByteLevel, Sequence
//   pre_tokenizer  ByteLevel, Split (String, or the GPT-2/Llama-3/Qwen2 regex),
//                  Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit,
//                  CharDelimiterSplit, Sequence
//   post_processor TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence
//   decoder        ByteLevel, Metaspace, Replace (String), ByteFallback, Fuse,
//                  Strip, BPEDecoder, Sequence
// Added tokens get HF's ids (their content's id in the vocab, else the next
// free one), which is what the file says for every real tokenizer.json.
//
// A Tokenizer is immutable after load; encode/decode may run concurrently
// (the word cache inside has its own lock).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace glq::io {

class Tokenizer {
public:
    // Throws glq::Error naming the file on a missing/unreadable/unsupported tokenizer.json.
    static Tokenizer load(const std::filesystem::path& tokenizer_json);
    static Tokenizer from_json_string(const std::string& json, const std::string& where);
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // add_special_tokens applies the post-processor (e.g. a BOS prefix), as HF does.
    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
    // Ids outside the vocabulary are skipped, as HF does (embeddings are often padded).
    std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

    int64_t vocab_size() const;  // including added tokens (distinct tokens, as HF's get_vocab_size(true))
    std::optional<int32_t> token_to_id(std::string_view token) const;
    std::string id_to_token(int32_t id) const;  // "" for an unknown id
    bool is_special(int32_t id) const;

    // Streaming decode for generation: feed ids one at a time, get back only
    // complete UTF-8 text (never a broken multi-byte sequence). The pieces
    // returned by push() and flush() concatenate to decode(all ids).
    //
    // Like HF's DecodeStream it re-decodes a short window (the ids since the
    // last emitted text plus the ids that produced it), so the cost per token
    // stays constant and context-dependent decoders (Metaspace's leading-space
    // strip, byte fallback runs) see their left context. Text is held back
    // while it ends in U+FFFD: that is an incomplete byte sequence that the
    // next token may complete.
    class StreamDecoder {
    public:
        explicit StreamDecoder(const Tokenizer& tok, bool skip_special_tokens = true);
        std::string push(int32_t id);
        std::string flush();  // whatever is left at the end (a lone U+FFFD included)
    private:
        const Tokenizer* tok_;
        bool skip_special_;
        std::vector<int32_t> ids_;   // the window: context ids, then not yet emitted ones
        std::string prefix_;         // decode() of the window's context ids, already returned
        std::size_t prefix_ids_ = 0; // how many of ids_ are context
    };

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

} // namespace glq::io
