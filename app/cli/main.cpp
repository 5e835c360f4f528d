// glqw: the headless GLQ Workbench. Dispatches to the registered commands and
// turns every error into one line on stderr and a non-zero exit.

#include <exception>
#include <iostream>
#include <string>

#include "app/cli/command.h"
#include "core/common/error.h"
#include "core/session/compute_threads.h"

namespace {

void print_overview(std::ostream& out) {
    out << "usage: glqw COMMAND [options]\n\n"
           "GLQ Workbench: E8 lattice (GLQ) post-training quantization of LLMs.\n\ncommands:\n";
    for (const auto& [name, cmd] : glq::cli::commands()) {
        out << "  " << name;
        for (size_t i = name.size(); i < 14; ++i) out << ' ';
        out << cmd.summary << "\n";
    }
    out << "\nRun 'glqw COMMAND --help' for a command's options.\n";
}

} // namespace

int main(int argc, char** argv) {
    // No more compute threads than cores, before any tensor work.
    glq::session::configure_compute_threads();
    if (argc < 2) {
        print_overview(std::cerr);
        return 2;
    }
    std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        print_overview(std::cout);
        return 0;
    }
    const auto& table = glq::cli::commands();
    auto it = table.find(name);
    if (it == table.end()) {
        std::cerr << "glqw: unknown command '" << name << "'\n\n";
        print_overview(std::cerr);
        return 2;
    }
    try {
        return it->second.run(argc - 1, argv + 1);
    } catch (const glq::cli::UsageError& e) {
        std::cerr << "glqw " << name << ": " << e.what() << "\n(see 'glqw " << name << " --help')\n";
        return 2;
    } catch (const glq::Cancelled&) {
        std::cerr << "glqw " << name << ": cancelled\n";
        return 130;
    } catch (const glq::Error& e) {
        std::cerr << "glqw " << name << ": error: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "glqw " << name << ": error: " << e.what() << "\n";
        return 1;
    }
}
