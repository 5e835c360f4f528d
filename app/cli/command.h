#pragma once
// The glqw command table. Each command lives in its own cmd_*.cpp and
// registers itself with GLQW_COMMAND, so adding a command touches no other file.

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace glq::cli {

// Thrown for a wrong command line; main prints it with the command's usage.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Declarative options so that every command gets a correct --help.
class ArgParser {
public:
    ArgParser(std::string command, std::string summary);

    ArgParser& positional(std::string name, std::string help, bool required = true);
    ArgParser& option(std::string name, std::string value_name, std::string help,
                      std::optional<std::string> default_value = std::nullopt);
    ArgParser& flag(std::string name, std::string help);

    // Parses argv (argv[0] is the command name). Returns false when --help was
    // given (the help is then written to `out`). Throws UsageError.
    bool parse(int argc, char** argv, std::ostream& out);

    bool has(const std::string& name) const;
    std::string get(const std::string& name) const;
    std::string get_or(const std::string& name, const std::string& fallback) const;
    long long get_int(const std::string& name) const;
    double get_double(const std::string& name) const;
    std::string help() const;

private:
    struct Spec {
        std::string name, value_name, help;
        std::optional<std::string> default_value;
        bool is_flag = false, is_positional = false, required = false;
    };
    const Spec* find(const std::string& name) const;

    std::string command_, summary_;
    std::vector<Spec> specs_;
    std::map<std::string, std::string> values_;
};

struct Command {
    std::string name;
    std::string summary;
    std::function<int(int argc, char** argv)> run;
};

void register_command(Command command);
const std::map<std::string, Command>& commands();

struct CommandRegistrar {
    explicit CommandRegistrar(Command command) { register_command(std::move(command)); }
};

} // namespace glq::cli

#define GLQW_COMMAND_CAT2(a, b) a##b
#define GLQW_COMMAND_CAT(a, b) GLQW_COMMAND_CAT2(a, b)
// GLQW_COMMAND("info", "Describe a model", run_info);
#define GLQW_COMMAND(name, summary, fn) \
    static ::glq::cli::CommandRegistrar GLQW_COMMAND_CAT(glqw_cmd_, __LINE__)({name, summary, fn})
