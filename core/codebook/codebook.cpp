// Codebook names and the registry of the seam (see codebook.h).

#include "core/codebook/codebook.h"

#include "core/codebook/e8_shell/shell_codebook.h"
#include "core/common/error.h"

namespace glq::codebook {

const char* codebook_name(CodebookKind kind) {
    switch (kind) {
    case CodebookKind::E8Shell: return "e8_shell";
    case CodebookKind::Trellis: return "trellis";
    }
    return "?";
}

CodebookKind parse_codebook(const std::string& name, const std::string& where) {
    if (name == "e8_shell") return CodebookKind::E8Shell;
    if (name == "trellis") return CodebookKind::Trellis;
    throw Error(where, "codebook \"" + name + "\" is not one this build knows (e8_shell, trellis)");
}

void Codebook::check_bpw(int bpw, const std::string& where) const {
    if (bpw < min_bpw() || bpw > max_bpw())
        throw Error(where, "bpw " + std::to_string(bpw) + ": the " + name() + " codebook supports " +
                               std::to_string(min_bpw()) + ".." + std::to_string(max_bpw()) + " bits per weight");
}

const Codebook& codebook_of(CodebookKind kind) {
    switch (kind) {
    case CodebookKind::E8Shell: return e8_shell_codebook();
    case CodebookKind::Trellis: break;
    }
    throw Error("codebook", std::string(codebook_name(kind)) + " is not built into this version yet");
}

} // namespace glq::codebook
