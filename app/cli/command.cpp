#include "app/cli/command.h"

#include <sstream>

namespace glq::cli {

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

ArgParser& ArgParser::positional(std::string name, std::string help, bool required) {
    Spec s;
    s.name = std::move(name);
    s.help = std::move(help);
    s.is_positional = true;
    s.required = required;
    specs_.push_back(std::move(s));
    return *this;
}

ArgParser& ArgParser::option(std::string name, std::string value_name, std::string help,
                             std::optional<std::string> default_value) {
    Spec s;
    s.name = std::move(name);
    s.value_name = std::move(value_name);
    s.help = std::move(help);
    s.default_value = std::move(default_value);
    specs_.push_back(std::move(s));
    return *this;
}

ArgParser& ArgParser::flag(std::string name, std::string help) {
    Spec s;
    s.name = std::move(name);
    s.help = std::move(help);
    s.is_flag = true;
    specs_.push_back(std::move(s));
    return *this;
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
    for (const auto& s : specs_)
        if (s.name == name) return &s;
    return nullptr;
}

bool ArgParser::parse(int argc, char** argv, std::ostream& out) {
    size_t next_positional = 0;
    std::vector<const Spec*> positionals;
    for (const auto& s : specs_)
        if (s.is_positional) positionals.push_back(&s);

    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            out << help();
            return false;
        }
        if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
            std::string name = arg.substr(2), value;
            bool inline_value = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
                inline_value = true;
            }
            const Spec* s = find(name);
            if (!s || s->is_positional) throw UsageError("unknown option --" + name);
            if (s->is_flag) {
                if (inline_value) throw UsageError("--" + name + " takes no value");
                values_[name] = "1";
            } else {
                if (!inline_value) {
                    if (i + 1 >= argc) throw UsageError("--" + name + " needs a value (" + s->value_name + ")");
                    value = argv[++i];
                }
                values_[name] = value;
            }
            continue;
        }
        if (next_positional >= positionals.size()) throw UsageError("unexpected argument '" + arg + "'");
        values_[positionals[next_positional++]->name] = arg;
    }
    for (const auto* p : positionals)
        if (p->required && !values_.count(p->name)) throw UsageError("missing " + p->name);
    return true;
}

bool ArgParser::has(const std::string& name) const {
    if (values_.count(name)) return true;
    const Spec* s = find(name);
    return s && s->default_value.has_value();
}

std::string ArgParser::get(const std::string& name) const {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    const Spec* s = find(name);
    if (s && s->default_value) return *s->default_value;
    throw UsageError("missing --" + name);
}

std::string ArgParser::get_or(const std::string& name, const std::string& fallback) const {
    return has(name) ? get(name) : fallback;
}

long long ArgParser::get_int(const std::string& name) const {
    std::string v = get(name);
    try {
        size_t used = 0;
        long long x = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        throw UsageError("--" + name + " expects an integer, got '" + v + "'");
    }
}

double ArgParser::get_double(const std::string& name) const {
    std::string v = get(name);
    try {
        size_t used = 0;
        double x = std::stod(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        throw UsageError("--" + name + " expects a number, got '" + v + "'");
    }
}

std::string ArgParser::help() const {
    std::ostringstream ss;
    ss << "usage: glqw " << command_;
    for (const auto& s : specs_)
        if (s.is_positional) ss << (s.required ? " " + s.name : " [" + s.name + "]");
    ss << " [options]\n\n" << summary_ << "\n";
    bool any_pos = false;
    for (const auto& s : specs_)
        if (s.is_positional) {
            if (!any_pos) ss << "\narguments:\n";
            any_pos = true;
            ss << "  " << s.name << "\n      " << s.help << "\n";
        }
    ss << "\noptions:\n";
    for (const auto& s : specs_) {
        if (s.is_positional) continue;
        ss << "  --" << s.name;
        if (!s.is_flag) ss << " " << s.value_name;
        ss << "\n      " << s.help;
        if (s.default_value) ss << " (default: " << *s.default_value << ")";
        ss << "\n";
    }
    ss << "  --help\n      show this help\n";
    return ss.str();
}

static std::map<std::string, Command>& table() {
    static std::map<std::string, Command> t;
    return t;
}

void register_command(Command command) { table()[command.name] = std::move(command); }
const std::map<std::string, Command>& commands() { return table(); }

} // namespace glq::cli
