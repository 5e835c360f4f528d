#include "core/io/jinja_interpreter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_map>

#include "core/io/jinja_builtins.h"
#include "core/io/jinja_python.h"

namespace glq::io::jinja {
namespace {

// jinja2's sandbox refuses ranges longer than this.
constexpr std::int64_t kMaxRange = 100000;
// A macro calling itself without end fails here, as Python's recursion limit
// fails jinja2, instead of overflowing our stack (kMaxRenderDepth bounds
// what each level may nest inside it).
constexpr int kMaxMacroDepth = 64;
// A loop iteration builds its `loop` object (a dozen entries): it counts as
// this many steps of kMaxRenderSteps.
constexpr std::int64_t kLoopIterationSteps = 8;

// The bytes a value's creation copies: its string, or the strings of a
// list's or dict's direct items (nested lists are shared, not copied).
std::uint64_t list_bytes(const List& list) {
    std::uint64_t n = list.size() * sizeof(Value);
    for (const auto& item : list) n += item.text.size();
    return n;
}

std::uint64_t bytes_of(const Value& v) {
    switch (v.kind) {
    case Kind::String: return v.text.size();
    case Kind::List: return list_bytes(*v.list);
    case Kind::Dict: {
        std::uint64_t n = v.dict->entries.size() * sizeof(Value);
        for (const auto& [k, item] : v.dict->entries) n += k.size() + item.text.size();
        return n;
    }
    default: return 0;
    }
}

// The items an operation on `v` may touch, for the step budget.
std::int64_t items_of(const Value& v) {
    switch (v.kind) {
    case Kind::String: return static_cast<std::int64_t>(v.text.size() / 256);
    case Kind::List: return static_cast<std::int64_t>(v.list->size());
    case Kind::Dict: return static_cast<std::int64_t>(v.dict->entries.size());
    default: return 0;
    }
}

struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;

    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent.get()) {
            auto it = s->vars.find(name);
            if (it != s->vars.end()) return &it->second;
        }
        return nullptr;
    }
};
using ScopePtr = std::shared_ptr<Scope>;

ScopePtr child_of(const ScopePtr& parent) {
    auto s = std::make_shared<Scope>();
    s->parent = parent;
    return s;
}

enum class Flow { Normal, Break, Continue };

// Undefined values carry the message jinja2's UndefinedError would show.
[[noreturn]] void undefined_error(const Value& v) {
    throw TemplateError(v.text.empty() ? "value is undefined" : v.text);
}

std::int64_t int_of(const Value& v) { return v.kind == Kind::Bool ? std::int64_t(v.boolean) : v.integer; }
bool is_intlike(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }

[[noreturn]] void operand_error(const char* op, const Value& a, const Value& b) {
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    throw TemplateError(std::string("unsupported operand type(s) for ") + op + ": '" + kind_name(a) + "' and '" +
                        kind_name(b) + "'");
}

Value repeat(const Value& seq, std::int64_t n) {
    // Checked before anything is built: 'x' * 4000000000 must not allocate.
    if (n > 0) {
        const std::uint64_t unit = seq.is_string() ? seq.text.size() : seq.list->size();
        const std::uint64_t limit = seq.is_string() ? kMaxStringBytes : kMaxListItems;
        if (unit != 0 && static_cast<std::uint64_t>(n) > limit / unit)
            throw TemplateError(std::string(seq.is_string() ? "a string of " : "a list of ") + std::to_string(unit) +
                                (seq.is_string() ? " bytes" : " items") + " repeated " + std::to_string(n) +
                                " times exceeds the template limit of " + std::to_string(limit) +
                                (seq.is_string() ? " bytes" : " items"));
        if (!seq.is_string() && static_cast<std::uint64_t>(n) * bytes_of(seq) > kMaxRenderBytes)
            throw TemplateError("a list repeated " + std::to_string(n) + " times exceeds the template's memory limit");
    }
    if (seq.is_string()) {
        std::string out;
        for (std::int64_t i = 0; i < n; ++i) out += seq.text;
        return Value::from(out);
    }
    List out;
    for (std::int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list->begin(), seq.list->end());
    return Value::from(std::move(out), seq.is_tuple);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        return Value::from(to_str(a) + to_str(b));
    }
    if (op == "+") {
        if (a.is_undefined() || b.is_undefined()) operand_error("+", a, b);
        return add_values(a, b);
    }
    if (op == "*") {
        if ((a.is_string() || a.is_list()) && is_intlike(b)) return repeat(a, int_of(b));
        if (is_intlike(a) && (b.is_string() || b.is_list())) return repeat(b, int_of(a));
    }
    if (!a.is_number() || !b.is_number()) operand_error(op.c_str(), a, b);
    const bool ints = is_intlike(a) && is_intlike(b);
    if (op == "-") return ints ? Value::from(checked_sub(int_of(a), int_of(b))) : Value::from(a.as_double() - b.as_double());
    if (op == "*") return ints ? Value::from(checked_mul(int_of(a), int_of(b))) : Value::from(a.as_double() * b.as_double());
    if (op == "/") {
        if (b.as_double() == 0.0) throw TemplateError("division by zero");
        return Value::from(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (b.as_double() == 0.0) throw TemplateError(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
        if (ints) {
            std::int64_t x = int_of(a), y = int_of(b);
            if (x == INT64_MIN && y == -1) throw TemplateError("integer overflow in '//' (beyond 64 bits)");
            std::int64_t q = x / y, r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) {
                --q;
                r += y;
            }
            return Value::from(op == "//" ? q : r);
        }
        double x = a.as_double(), y = b.as_double();
        if (op == "//") return Value::from(std::floor(x / y));
        double r = std::fmod(x, y);
        if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
        return Value::from(r);
    }
    if (op == "**") {
        if (ints && int_of(b) >= 0) {
            std::int64_t result = 1, base = int_of(a);
            for (std::int64_t e = int_of(b); e > 0; --e) result = checked_mul(result, base);
            return Value::from(result);
        }
        return Value::from(std::pow(a.as_double(), b.as_double()));
    }
    throw TemplateError("unknown operator '" + op + "'");
}

bool compare(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    if (op == "<") return less_than(a, b);
    if (op == ">") return less_than(b, a);
    if (op == "<=") return !less_than(b, a);
    if (op == ">=") return !less_than(a, b);
    throw TemplateError("unknown comparison '" + op + "'");
}

// Python's slice.indices(): clamps start/stop for a sequence of `len` items.
std::vector<std::size_t> slice_indices(std::int64_t len, const Value& start_v, const Value& stop_v,
                                       const Value& step_v) {
    auto opt = [](const Value& v) -> std::optional<std::int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!is_intlike(v)) throw TemplateError("slice indices must be integers or None");
        return int_of(v);
    };
    const std::int64_t step = opt(step_v).value_or(1);
    if (step == 0) throw TemplateError("slice step cannot be zero");
    auto clamp = [&](std::optional<std::int64_t> i, std::int64_t dflt) {
        if (!i) return dflt;
        std::int64_t x = *i;
        if (x < 0) x += len;
        if (step > 0) return std::clamp<std::int64_t>(x, 0, len);
        return std::clamp<std::int64_t>(x, -1, len - 1);
    };
    const std::int64_t start = clamp(opt(start_v), step > 0 ? 0 : len - 1);
    const std::int64_t stop = clamp(opt(stop_v), step > 0 ? len : -1);
    std::vector<std::size_t> out;
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(static_cast<std::size_t>(i));
    return out;
}

class Interpreter {
public:
    explicit Interpreter(const RenderOptions& options) : options_(options) {}

    // `{% set ns.self = ns %}` makes a reference cycle that shared_ptr never
    // frees: empty every namespace the template assigned to once the render is
    // over (no value outlives it; the output is a string).
    ~Interpreter() {
        for (const auto& weak : assigned_namespaces_) {
            if (auto d = weak.lock()) {
                auto entries = std::move(d->entries);
                auto typed = std::move(d->typed_keys);
                d->entries.clear();
                d->typed_keys.clear();
            }
        }
    }
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    std::string run(const Body& body, const Dict& context) {
        auto globals = std::make_shared<Scope>();
        install_globals(*globals);
        auto top = child_of(globals);
        for (const auto& [k, v] : context.entries) top->vars[k] = v;
        std::string out;
        exec_body(body, top, out);
        return out;
    }

private:
    const RenderOptions& options_;
    int macro_depth_ = 0;
    std::vector<std::weak_ptr<Dict>> assigned_namespaces_;
    int depth_ = 0;               // nested exec_body/eval calls
    std::int64_t steps_ = 0;      // against kMaxRenderSteps
    std::uint64_t bytes_ = 0;     // against kMaxRenderBytes

    void step(std::int64_t n = 1) {
        steps_ += n;
        if (steps_ > kMaxRenderSteps)
            throw TemplateError("the template takes more than " + std::to_string(kMaxRenderSteps) +
                                " steps (loop iterations, statements, expressions); refusing to go on");
    }
    void charge(const Value& v) {
        charge_bytes(bytes_of(v));
        if (v.is_string() && v.text.size() > kMaxStringBytes)
            throw TemplateError("the template builds a string of " + std::to_string(v.text.size()) +
                                " bytes, beyond the limit of " + std::to_string(kMaxStringBytes));
        if (v.is_list() && v.list->size() > kMaxListItems)
            throw TemplateError("the template builds a list of " + std::to_string(v.list->size()) +
                                " items, beyond the limit of " + std::to_string(kMaxListItems));
    }
    void charge_bytes(std::uint64_t n) {
        bytes_ += n;
        if (bytes_ > kMaxRenderBytes)
            throw TemplateError("the template builds more than " + std::to_string(kMaxRenderBytes >> 20) +
                                " MiB of strings and lists; refusing to go on");
    }
    void append(std::string& out, const std::string& s) {
        if (s.size() > kMaxStringBytes - std::min(out.size(), kMaxStringBytes))
            throw TemplateError("the rendered text exceeds the limit of " + std::to_string(kMaxStringBytes) + " bytes");
        out += s;
    }
    struct Deeper {
        int& depth;
        explicit Deeper(int& d) : depth(d) {
            if (++depth > kMaxRenderDepth) {
                --depth;
                throw TemplateError("maximum recursion depth exceeded (more than " + std::to_string(kMaxRenderDepth) +
                                    " nested calls, blocks and expressions)");
            }
        }
        ~Deeper() { --depth; }
        Deeper(const Deeper&) = delete;
        Deeper& operator=(const Deeper&) = delete;
    };

    void install_globals(Scope& g) {
        g.vars["range"] = Value::make_function([](CallArgs& a) {
            if (!a.keyword.empty() || a.positional.empty() || a.positional.size() > 3)
                throw TemplateError("range() takes 1 to 3 integer arguments");
            std::int64_t start = 0, stop, step = 1;
            for (const auto& v : a.positional)
                if (!is_intlike(v)) throw TemplateError(std::string("range() integer argument expected, got ") + kind_name(v));
            if (a.positional.size() == 1) {
                stop = int_of(a.positional[0]);
            } else {
                start = int_of(a.positional[0]);
                stop = int_of(a.positional[1]);
                if (a.positional.size() == 3) step = int_of(a.positional[2]);
            }
            if (step == 0) throw TemplateError("range() arg 3 must not be zero");
            List out;
            for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (static_cast<std::int64_t>(out.size()) >= kMaxRange)
                    throw TemplateError("range too big, the sandbox blocks ranges larger than 100000");
                out.push_back(Value::from(i));
            }
            return Value::from(std::move(out));
        });
        g.vars["namespace"] = Value::make_function([](CallArgs& a) {
            Dict attrs;
            for (const auto& p : a.positional) {
                if (!p.is_dict()) throw TemplateError("namespace() takes a mapping and keyword arguments");
                for (const auto& [k, v] : p.dict->entries) attrs.set(k, v);
            }
            for (const auto& [k, v] : a.keyword) attrs.set(k, v);
            return Value::make_namespace(std::move(attrs));
        });
        g.vars["dict"] = Value::make_function([](CallArgs& a) {
            Dict d;
            for (const auto& p : a.positional) {
                if (!p.is_dict()) throw TemplateError("dict() takes a mapping and keyword arguments");
                for (const auto& [k, v] : p.dict->entries) d.set(k, v);
            }
            for (const auto& [k, v] : a.keyword) d.set(k, v);
            return Value::from(std::move(d));
        });
        g.vars["raise_exception"] = Value::make_function([](CallArgs& a) -> Value {
            const Value* msg = a.get(0, "message");
            throw TemplateError(msg ? to_str(*msg) : std::string("raise_exception() called"), true);
        });
        const RenderOptions* opts = &options_;
        g.vars["strftime_now"] = Value::make_function([opts](CallArgs& a) {
            const Value* fmt = a.get(0, "format");
            if (!fmt || !fmt->is_string()) throw TemplateError("strftime_now() needs a format string");
            std::tm tm{};
            if (opts->now) {
                tm = opts->now();
            } else {
                std::time_t t = std::time(nullptr);
                localtime_r(&t, &tm);
            }
            char buf[512];
            std::size_t n = std::strftime(buf, sizeof buf, fmt->text.c_str(), &tm);
            return Value::from(std::string(buf, n));
        });
    }

    // ---- statements --------------------------------------------------------

    Flow exec_body(const Body& body, const ScopePtr& scope, std::string& out) {
        Deeper deeper(depth_);
        for (const auto& stmt : body) {
            step();
            Flow f;
            try {
                f = exec(*stmt, scope, out);
            } catch (TemplateError& e) {
                if (e.line == 0) e.line = stmt->line;
                throw;
            }
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
        switch (s.type) {
        case Stmt::Type::Text: append(out, s.text); return Flow::Normal;
        case Stmt::Type::Output: append(out, to_str(eval(*s.expr, scope))); return Flow::Normal;
        case Stmt::Type::If:
            for (const auto& [cond, body] : s.branches)
                if (eval(*cond, scope).truthy()) return exec_body(body, scope, out);
            return exec_body(s.else_body, scope, out);
        case Stmt::Type::For: exec_for(s, scope, out); return Flow::Normal;
        case Stmt::Type::Set: assign(*s.target, eval(*s.expr, scope), scope); return Flow::Normal;
        case Stmt::Type::SetBlock: {
            std::string captured;
            exec_body(s.body, scope, captured);
            assign(*s.target, Value::from(captured), scope);
            return Flow::Normal;
        }
        case Stmt::Type::Macro: scope->vars[s.name] = make_macro(s, scope); return Flow::Normal;
        case Stmt::Type::Break: return Flow::Break;
        case Stmt::Type::Continue: return Flow::Continue;
        case Stmt::Type::Scope: return exec_body(s.body, scope, out);
        case Stmt::Type::FilterBlock: {
            std::string captured;
            exec_body(s.body, scope, captured);
            append(out, to_str(apply_filter_chain(*s.expr, Value::from(captured), scope)));
            return Flow::Normal;
        }
        }
        return Flow::Normal;
    }

    void bind(const Expr& target, const Value& value, Scope& scope) {
        if (target.type == Expr::Type::Name) {
            scope.vars[target.name] = value;
            return;
        }
        // Tuple unpacking: `for key, value in d.items()`.
        List items;
        if (value.is_list()) items = *value.list;
        else if (value.is_string()) for (auto& cp : code_points(value.text)) items.push_back(Value::from(cp));
        else throw TemplateError(std::string("cannot unpack non-iterable ") + kind_name(value) + " object");
        const std::size_t want = target.children.size();
        if (items.size() > want)
            throw TemplateError("too many values to unpack (expected " + std::to_string(want) + ")");
        if (items.size() < want)
            throw TemplateError("not enough values to unpack (expected " + std::to_string(want) + ", got " +
                                std::to_string(items.size()) + ")");
        for (std::size_t i = 0; i < items.size(); ++i) bind(*target.children[i], items[i], scope);
    }

    void assign(const Expr& target, const Value& value, const ScopePtr& scope) {
        if (target.type == Expr::Type::GetAttr) {
            const std::string& ns_name = target.children[0]->name;
            const Value* ns = scope->find(ns_name);
            if (!ns || ns->kind != Kind::Namespace)
                throw TemplateError("cannot assign attribute on non-namespace object '" + ns_name + "'");
            if (assigned_namespaces_.empty() || assigned_namespaces_.back().lock() != ns->dict)
                assigned_namespaces_.push_back(ns->dict);
            ns->dict->set(target.name, value);
            return;
        }
        bind(target, value, *scope);
    }

    void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
        List items = iterate(eval(*s.expr, scope), "for loop");
        charge_bytes(list_bytes(items));  // the loop's own copy
        if (s.filter) {
            // The loop's `if` filters before loop.length and friends are known.
            List kept;
            for (const auto& item : items) {
                step();
                auto probe = child_of(scope);
                bind(*s.target, item, *probe);
                if (eval(*s.filter, probe).truthy()) kept.push_back(item);
            }
            items = std::move(kept);
        }
        if (items.empty()) {
            exec_body(s.else_body, child_of(scope), out);
            return;
        }
        const auto n = static_cast<std::int64_t>(items.size());
        auto cycle_items = std::make_shared<std::int64_t>(0);
        for (std::int64_t i = 0; i < n; ++i) {
            step(kLoopIterationSteps);
            auto iteration = child_of(scope);
            bind(*s.target, items[static_cast<std::size_t>(i)], *iteration);
            Dict loop;
            loop.set("index", Value::from(i + 1));
            loop.set("index0", Value::from(i));
            loop.set("revindex", Value::from(n - i));
            loop.set("revindex0", Value::from(n - i - 1));
            loop.set("first", Value::from(i == 0));
            loop.set("last", Value::from(i == n - 1));
            loop.set("length", Value::from(n));
            loop.set("depth", Value::from(std::int64_t(1)));
            loop.set("depth0", Value::from(std::int64_t(0)));
            if (i > 0) loop.set("previtem", items[static_cast<std::size_t>(i - 1)]);
            if (i < n - 1) loop.set("nextitem", items[static_cast<std::size_t>(i + 1)]);
            loop.set("cycle", Value::make_function([i](CallArgs& a) {
                if (a.positional.empty()) throw TemplateError("no items for cycling given");
                return a.positional[static_cast<std::size_t>(i) % a.positional.size()];
            }));
            Value loop_value = Value::from(std::move(loop));
            loop_value.kind = Kind::Namespace;  // attribute access only, like jinja2's LoopContext
            iteration->vars["loop"] = loop_value;
            if (exec_body(s.body, iteration, out) == Flow::Break) break;
        }
    }

    Value make_macro(const Stmt& s, const ScopePtr& defining_scope) {
        const Stmt* macro = &s;
        std::weak_ptr<Scope> weak_scope = defining_scope;
        return Value::make_function([this, macro, weak_scope](CallArgs& a) {
            auto parent = weak_scope.lock();
            if (!parent) throw TemplateError("macro '" + macro->name + "' called outside its scope");
            if (a.positional.size() > macro->params.size())
                throw TemplateError("macro '" + macro->name + "' takes not more than " +
                                    std::to_string(macro->params.size()) + " argument(s)");
            auto scope = child_of(parent);
            for (std::size_t i = 0; i < macro->params.size(); ++i) {
                const MacroParam& p = macro->params[i];
                const Value* given = a.get(i, p.name.c_str());
                if (given) scope->vars[p.name] = *given;
                else if (p.default_value) scope->vars[p.name] = eval(*p.default_value, scope);
                else scope->vars[p.name] = Value::undefined("parameter '" + p.name + "' was not provided");
            }
            for (const auto& [k, v] : a.keyword) {
                bool known = false;
                for (const auto& p : macro->params) known = known || p.name == k;
                if (!known) throw TemplateError("macro '" + macro->name + "' takes no keyword argument '" + k + "'");
            }
            if (macro_depth_ >= kMaxMacroDepth)
                throw TemplateError("maximum recursion depth exceeded in macro '" + macro->name + "'");
            ++macro_depth_;
            struct Leave {
                int& depth;
                ~Leave() { --depth; }
            } leave{macro_depth_};
            std::string out;
            exec_body(macro->body, scope, out);
            return Value::from(out);
        });
    }

    // ---- expressions -------------------------------------------------------

    Value eval(const Expr& e, const ScopePtr& scope) {
        try {
            Deeper deeper(depth_);
            step();
            Value v = eval_inner(e, scope);
            // Names, attributes and items copy a string but share a list;
            // every other node builds its value.
            const bool looked_up = e.type == Expr::Type::Name || e.type == Expr::Type::GetAttr ||
                                   e.type == Expr::Type::GetItem || e.type == Expr::Type::Literal;
            if (!looked_up || v.is_string()) charge(v);
            return v;
        } catch (TemplateError& err) {
            if (err.line == 0) err.line = e.line;
            throw;
        }
    }

    CallArgs eval_args(const Expr& e, std::size_t first, const ScopePtr& scope) {
        CallArgs a;
        for (std::size_t i = first; i < e.children.size(); ++i) a.positional.push_back(eval(*e.children[i], scope));
        for (const auto& [k, v] : e.kwargs) a.keyword.emplace_back(k, eval(*v, scope));
        return a;
    }

    // `{% filter a|b(x) %}`: the chain's innermost (null) input is the body.
    Value apply_filter_chain(const Expr& f, Value input, const ScopePtr& scope) {
        if (f.children[0]) input = apply_filter_chain(*f.children[0], std::move(input), scope);
        CallArgs args = eval_args(f, 1, scope);
        return apply_filter(f.name, input, args);
    }

    Value get_attr(const Value& obj, const std::string& name) {
        switch (obj.kind) {
        case Kind::Undefined: undefined_error(obj);
        case Kind::Dict: {
            if (auto m = bound_method(obj, name)) return *m;
            const Value* v = obj.dict->find(name);
            return v ? *v : Value::undefined("'dict object' has no attribute '" + name + "'");
        }
        case Kind::Namespace: {
            const Value* v = obj.dict->find(name);
            return v ? *v : Value::undefined(std::string("'") + kind_name(obj) + " object' has no attribute '" + name + "'");
        }
        case Kind::None: return Value::undefined("'None' has no attribute '" + name + "'");
        default:
            if (auto m = bound_method(obj, name)) return *m;
            return Value::undefined(std::string("'") + kind_name(obj) + " object' has no attribute '" + name + "'");
        }
    }

    Value get_item(const Value& obj, const Value& key) {
        if (obj.is_undefined()) undefined_error(obj);
        if ((obj.is_list() || obj.is_string()) && is_intlike(key)) {
            std::int64_t i = int_of(key);
            if (obj.is_list()) {
                const auto n = static_cast<std::int64_t>(obj.list->size());
                if (i < 0) i += n;
                if (i < 0 || i >= n) return Value::undefined(std::string("'") + kind_name(obj) + " object' has no element " + std::to_string(int_of(key)));
                return (*obj.list)[static_cast<std::size_t>(i)];
            }
            auto cps = code_points(obj.text);
            const auto n = static_cast<std::int64_t>(cps.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return Value::undefined("'str object' has no element " + std::to_string(int_of(key)));
            return Value::from(cps[static_cast<std::size_t>(i)]);
        }
        if (obj.is_dict() || obj.kind == Kind::Namespace) {
            if (const Value* v = obj.dict->find(key)) return *v;
        }
        if (key.is_string()) return get_attr(obj, key.text);  // jinja2 falls back to getattr
        return Value::undefined(std::string("'") + kind_name(obj) + " object' has no element " + repr(key));
    }

    Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
        if (obj.is_undefined()) undefined_error(obj);
        if (obj.is_string()) {
            auto cps = code_points(obj.text);
            std::string out;
            for (auto i : slice_indices(static_cast<std::int64_t>(cps.size()), start, stop, step)) out += cps[i];
            return Value::from(out);
        }
        if (obj.is_list()) {
            List out;
            for (auto i : slice_indices(static_cast<std::int64_t>(obj.list->size()), start, stop, step))
                out.push_back((*obj.list)[i]);
            return Value::from(std::move(out), obj.is_tuple);
        }
        throw TemplateError(std::string("'") + kind_name(obj) + "' object is not subscriptable");
    }

    Value eval_inner(const Expr& e, const ScopePtr& scope) {
        switch (e.type) {
        case Expr::Type::Literal: return e.literal;
        case Expr::Type::Name: {
            const Value* v = scope->find(e.name);
            return v ? *v : Value::undefined("'" + e.name + "' is undefined");
        }
        case Expr::Type::List:
        case Expr::Type::Tuple: {
            List items;
            for (const auto& c : e.children) items.push_back(eval(*c, scope));
            return Value::from(std::move(items), e.type == Expr::Type::Tuple);
        }
        case Expr::Type::Dict: {
            Dict d;
            for (std::size_t i = 0; i + 1 < e.children.size(); i += 2) {
                Value k = eval(*e.children[i], scope);
                if (k.kind == Kind::List && !k.is_tuple) throw TemplateError("unhashable type: 'list'");
                if (k.is_dict()) throw TemplateError("unhashable type: 'dict'");
                step(static_cast<std::int64_t>(d.entries.size()));  // set() searches the keys so far
                d.set(k, eval(*e.children[i + 1], scope));
            }
            return Value::from(std::move(d));
        }
        case Expr::Type::GetAttr: return get_attr(eval(*e.children[0], scope), e.name);
        case Expr::Type::GetItem: return get_item(eval(*e.children[0], scope), eval(*e.children[1], scope));
        case Expr::Type::Slice: {
            auto opt = [&](const ExprPtr& p) { return p ? eval(*p, scope) : Value::none(); };
            return slice(eval(*e.children[0], scope), opt(e.children[1]), opt(e.children[2]), opt(e.children[3]));
        }
        case Expr::Type::Call: {
            Value callee = eval(*e.children[0], scope);
            CallArgs args = eval_args(e, 1, scope);
            if (callee.is_undefined()) undefined_error(callee);
            if (!callee.is_callable()) throw TemplateError(std::string("'") + kind_name(callee) + "' object is not callable");
            for (const auto& a : args.positional) step(items_of(a));
            return (*callee.function)(args);
        }
        case Expr::Type::Filter: {
            Value input = eval(*e.children[0], scope);
            CallArgs args = eval_args(e, 1, scope);
            if (e.name != "length" && e.name != "count") step(items_of(input));  // those two are O(1)
            return apply_filter(e.name, input, args);
        }
        case Expr::Type::Test: {
            Value input = eval(*e.children[0], scope);
            CallArgs args = eval_args(e, 1, scope);
            return Value::from(apply_test(e.name, input, args) != e.negated);
        }
        case Expr::Type::Negate:
        case Expr::Type::Plus: {
            Value v = eval(*e.children[0], scope);
            if (v.is_undefined()) undefined_error(v);
            if (!v.is_number())
                throw TemplateError(std::string("bad operand type for unary ") + (e.type == Expr::Type::Negate ? "-" : "+") +
                                    ": '" + kind_name(v) + "'");
            if (e.type == Expr::Type::Plus) return is_intlike(v) ? Value::from(int_of(v)) : v;
            return is_intlike(v) ? Value::from(checked_sub(0, int_of(v))) : Value::from(-v.number);
        }
        case Expr::Type::Not: return Value::from(!eval(*e.children[0], scope).truthy());
        case Expr::Type::Binary:
            return arithmetic(e.name, eval(*e.children[0], scope), eval(*e.children[1], scope));
        case Expr::Type::And: {
            Value left = eval(*e.children[0], scope);
            return left.truthy() ? eval(*e.children[1], scope) : left;
        }
        case Expr::Type::Or: {
            Value left = eval(*e.children[0], scope);
            return left.truthy() ? left : eval(*e.children[1], scope);
        }
        case Expr::Type::Compare: {
            Value left = eval(*e.children[0], scope);
            for (std::size_t i = 0; i < e.ops.size(); ++i) {
                Value right = eval(*e.children[i + 1], scope);
                if (!compare(e.ops[i], left, right)) return Value::from(false);
                left = std::move(right);
            }
            return Value::from(true);
        }
        case Expr::Type::Condition:
            if (eval(*e.children[0], scope).truthy()) return eval(*e.children[1], scope);
            return e.children[2] ? eval(*e.children[2], scope) : Value::undefined();
        }
        return Value::undefined();
    }
};

} // namespace

std::string render(const Body& body, const Dict& context, const RenderOptions& options) {
    return Interpreter(options).run(body, context);
}

} // namespace glq::io::jinja
