#include "core/io/jinja_parser.h"

#include "core/io/jinja_builtins.h"

#include <algorithm>
#include <string>
#include <cstdlib>
#include <initializer_list>

namespace glq::io::jinja {
namespace {

const char* describe(TokenType t) {
    switch (t) {
    case TokenType::Text: return "template text";
    case TokenType::VarBegin: return "'{{'";
    case TokenType::VarEnd: return "'}}'";
    case TokenType::BlockBegin: return "'{%'";
    case TokenType::BlockEnd: return "'%}'";
    case TokenType::Name: return "name";
    case TokenType::String: return "string";
    case TokenType::Integer: return "integer";
    case TokenType::Float: return "float";
    case TokenType::Operator: return "operator";
    case TokenType::End: return "end of template";
    }
    return "token";
}

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

    Body parse_template() {
        Body body = parse_body({});
        if (cur().type != TokenType::End) fail("unexpected '" + cur().value + "'");
        return body;
    }

private:
    const std::vector<Token>& t_;
    std::size_t i_ = 0;
    int nesting_ = 0;  // parser recursion: blocks and sub-expressions being parsed

    // One level of recursion, refused beyond kMaxNesting.
    struct Nest {
        Parser& p;
        explicit Nest(Parser& parser) : p(parser) {
            if (++p.nesting_ > kMaxNesting) {
                --p.nesting_;
                p.fail("the template nests blocks or expressions more than " + std::to_string(kMaxNesting) +
                       " deep");
            }
        }
        ~Nest() { --p.nesting_; }
        Nest(const Nest&) = delete;
        Nest& operator=(const Nest&) = delete;
    };

    // A finished node: its depth from its children, refused beyond kMaxNesting
    // (chains such as a.b.c... or 1+1+1... grow the tree without recursing here).
    ExprPtr done(ExprPtr e) {
        int d = 0;
        for (const auto& c : e->children)
            if (c) d = std::max(d, c->depth);
        for (const auto& kw : e->kwargs)
            if (kw.second) d = std::max(d, kw.second->depth);
        e->depth = d + 1;
        if (e->depth > kMaxNesting)
            fail("an expression nests more than " + std::to_string(kMaxNesting) + " deep");
        return e;
    }
    // Blocks being parsed (tag, line), innermost last, for "never closed" errors.
    std::vector<std::pair<std::string, int>> open_blocks_;

    struct OpenBlock {
        Parser& p;
        OpenBlock(Parser& parser, std::string tag, int line) : p(parser) { p.open_blocks_.emplace_back(std::move(tag), line); }
        ~OpenBlock() { p.open_blocks_.pop_back(); }
    };

    const Token& cur() const { return t_[i_]; }
    const Token& peek(std::size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
    const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }

    [[noreturn]] void fail(const std::string& message) const { throw SyntaxError(cur().line, message); }

    bool is_op(const char* op) const { return cur().type == TokenType::Operator && cur().value == op; }
    bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().value == name; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        next();
        return true;
    }
    std::string current_text() const {
        const Token& c = cur();
        if (c.type == TokenType::Name || c.type == TokenType::Operator) return "'" + c.value + "'";
        if (c.type == TokenType::String) return "string '" + c.value + "'";
        if (c.type == TokenType::Integer || c.type == TokenType::Float) return "number " + c.value;
        return describe(c.type);
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(std::string("expected '") + op + "', got " + current_text());
    }
    void expect_block_end() {
        if (cur().type != TokenType::BlockEnd) fail("expected end of statement '%}', got " + current_text());
        next();
    }
    std::string expect_name(const char* what) {
        if (cur().type != TokenType::Name) fail(std::string("expected ") + what + ", got " + current_text());
        return next().value;
    }

    ExprPtr node(Expr::Type type, int line) { return std::make_unique<Expr>(type, line); }

    // ---- statements --------------------------------------------------------

    // Statements until `{% <one of end_tags>`, which is left unconsumed.
    Body parse_body(std::initializer_list<const char*> end_tags) {
        Body body;
        for (;;) {
            const Token& tok = cur();
            switch (tok.type) {
            case TokenType::End:
                if (end_tags.size() != 0) {
                    std::string expected;
                    for (const char* e : end_tags) expected += std::string(expected.empty() ? "" : " or ") + "'" + e + "'";
                    std::string block = open_blocks_.empty() ? std::string("a block")
                                                             : "the '" + open_blocks_.back().first + "' block opened on line " +
                                                                   std::to_string(open_blocks_.back().second);
                    fail("unexpected end of template: " + block + " is never closed (expected " + expected + ")");
                }
                return body;
            case TokenType::Text: {
                auto s = std::make_unique<Stmt>(Stmt::Type::Text, tok.line);
                s->text = tok.value;
                body.push_back(std::move(s));
                next();
                break;
            }
            case TokenType::VarBegin: {
                auto s = std::make_unique<Stmt>(Stmt::Type::Output, tok.line);
                next();
                s->expr = parse_tuple(true, {});
                if (cur().type != TokenType::VarEnd) fail("expected end of print statement '}}', got " + current_text());
                next();
                body.push_back(std::move(s));
                break;
            }
            case TokenType::BlockBegin: {
                const Token& tag = peek();
                if (tag.type == TokenType::Name &&
                    std::any_of(end_tags.begin(), end_tags.end(), [&](const char* e) { return tag.value == e; }))
                    return body;
                next();
                body.push_back(parse_statement());
                break;
            }
            default: fail("unexpected " + current_text());
            }
        }
    }

    // Consumes `{% name %}` for an end tag that parse_body stopped at.
    std::string take_end_tag() {
        next();  // {%
        std::string name = next().value;
        return name;
    }

    StmtPtr parse_statement() {
        if (cur().type != TokenType::Name) fail("expected a tag name after '{%', got " + current_text());
        const std::string tag = cur().value;
        const int line = cur().line;
        Nest nest(*this);
        next();
        OpenBlock open(*this, tag, line);
        if (tag == "if") return parse_if(line);
        if (tag == "for") return parse_for(line);
        if (tag == "set") return parse_set(line);
        if (tag == "macro") return parse_macro(line);
        if (tag == "break" || tag == "continue") {
            expect_block_end();
            return std::make_unique<Stmt>(tag == "break" ? Stmt::Type::Break : Stmt::Type::Continue, line);
        }
        if (tag == "generation") {
            expect_block_end();
            auto s = std::make_unique<Stmt>(Stmt::Type::Scope, line);
            s->body = parse_body({"endgeneration"});
            take_end_tag();
            expect_block_end();
            return s;
        }
        if (tag == "filter") {
            auto s = std::make_unique<Stmt>(Stmt::Type::FilterBlock, line);
            ExprPtr chain;  // null input: the rendered body goes there
            do {
                auto f = node(Expr::Type::Filter, cur().line);
                f->name = expect_name("a filter name");
                if (!has_filter(f->name)) fail("No filter named '" + f->name + "'.");
                f->children.push_back(std::move(chain));
                if (is_op("(")) parse_call_args(*f);
                chain = done(std::move(f));
            } while (skip_op("|"));
            s->expr = std::move(chain);
            expect_block_end();
            s->body = parse_body({"endfilter"});
            take_end_tag();
            expect_block_end();
            return s;
        }
        throw SyntaxError(line, "unknown or unsupported tag '" + tag + "'");
    }

    StmtPtr parse_if(int line) {
        auto s = std::make_unique<Stmt>(Stmt::Type::If, line);
        ExprPtr cond = parse_tuple(false, {});
        for (;;) {
            expect_block_end();
            Body body = parse_body({"elif", "else", "endif"});
            s->branches.emplace_back(std::move(cond), std::move(body));
            const std::string end = take_end_tag();
            if (end == "elif") {
                cond = parse_tuple(false, {});
                continue;
            }
            if (end == "else") {
                expect_block_end();
                s->else_body = parse_body({"endif"});
                take_end_tag();
            }
            expect_block_end();
            return s;
        }
    }

    StmtPtr parse_for(int line) {
        auto s = std::make_unique<Stmt>(Stmt::Type::For, line);
        s->target = parse_assign_target(false);
        if (!skip_name("in")) fail("expected 'in' in the for loop, got " + current_text());
        s->expr = parse_tuple(false, {"recursive"});
        if (is_name("recursive")) fail("recursive for loops are not supported");
        if (skip_name("if")) s->filter = parse_expression(true);
        expect_block_end();
        s->body = parse_body({"endfor", "else"});
        if (take_end_tag() == "else") {
            expect_block_end();
            s->else_body = parse_body({"endfor"});
            take_end_tag();
        }
        expect_block_end();
        return s;
    }

    StmtPtr parse_set(int line) {
        ExprPtr target = parse_assign_target(true);
        if (skip_op("=")) {
            auto s = std::make_unique<Stmt>(Stmt::Type::Set, line);
            s->target = std::move(target);
            s->expr = parse_tuple(true, {});
            expect_block_end();
            return s;
        }
        if (is_op("|")) fail("filters on a block set are not supported");
        auto s = std::make_unique<Stmt>(Stmt::Type::SetBlock, line);
        s->target = std::move(target);
        expect_block_end();
        s->body = parse_body({"endset"});
        take_end_tag();
        expect_block_end();
        return s;
    }

    StmtPtr parse_macro(int line) {
        auto s = std::make_unique<Stmt>(Stmt::Type::Macro, line);
        s->name = expect_name("a macro name");
        expect_op("(");
        while (!is_op(")")) {
            if (!s->params.empty()) expect_op(",");
            if (is_op(")")) break;
            MacroParam p;
            p.name = expect_name("a parameter name");
            if (skip_op("=")) p.default_value = parse_expression(true);
            else if (!s->params.empty() && s->params.back().default_value)
                fail("non-default argument follows default argument");
            s->params.push_back(std::move(p));
        }
        next();
        expect_block_end();
        s->body = parse_body({"endmacro"});
        take_end_tag();
        if (cur().type == TokenType::Name) next();  // {% endmacro name %}
        expect_block_end();
        return s;
    }

    // A name, `a, b` (loops and set), or `ns.attr` (set only).
    ExprPtr parse_assign_target(bool with_namespace) {
        const int line = cur().line;
        if (with_namespace && cur().type == TokenType::Name && peek().type == TokenType::Operator &&
            peek().value == "." && peek(2).type == TokenType::Name) {
            auto ns = node(Expr::Type::Name, line);
            ns->name = next().value;
            next();
            auto attr = node(Expr::Type::GetAttr, line);
            attr->name = next().value;
            attr->children.push_back(std::move(ns));
            return attr;
        }
        const bool parens = skip_op("(");
        std::vector<ExprPtr> names;
        for (;;) {
            auto n = node(Expr::Type::Name, cur().line);
            n->name = expect_name("a variable name");
            if (n->name == "true" || n->name == "false" || n->name == "none" || n->name == "True" ||
                n->name == "False" || n->name == "None")
                fail("cannot assign to '" + n->name + "'");
            names.push_back(std::move(n));
            if (!skip_op(",")) break;
            if (cur().type != TokenType::Name) break;
        }
        if (parens) expect_op(")");
        if (names.size() == 1 && !parens) return std::move(names[0]);
        auto tuple = node(Expr::Type::Tuple, line);
        tuple->children = std::move(names);
        return tuple;
    }

    // ---- expressions -------------------------------------------------------

    bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
        const Token& c = cur();
        if (c.type == TokenType::VarEnd || c.type == TokenType::BlockEnd || c.type == TokenType::End) return true;
        if (c.type == TokenType::Operator && c.value == ")") return true;
        if (c.type == TokenType::Name)
            return std::any_of(extra_end.begin(), extra_end.end(), [&](const char* e) { return c.value == e; });
        return false;
    }

    // `a, b` as a tuple; a single expression as itself.
    ExprPtr parse_tuple(bool with_condexpr, std::initializer_list<const char*> extra_end,
                        bool explicit_parentheses = false) {
        const int line = cur().line;
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        for (;;) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            items.push_back(parse_expression(with_condexpr));
            if (is_op(",")) is_tuple = true;
            else break;
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parentheses) fail("expected an expression, got " + current_text());
        }
        auto t = node(Expr::Type::Tuple, line);
        t->children = std::move(items);
        return done(std::move(t));
    }

    ExprPtr parse_expression(bool with_condexpr) {
        Nest nest(*this);
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        Nest nest(*this);
        const int line = cur().line;
        ExprPtr expr = parse_or();
        while (skip_name("if")) {
            auto c = node(Expr::Type::Condition, line);
            c->children.push_back(parse_or());
            c->children.push_back(std::move(expr));
            c->children.push_back(skip_name("else") ? parse_condexpr() : nullptr);
            expr = done(std::move(c));
        }
        return expr;
    }

    ExprPtr binary(Expr::Type type, const std::string& op, ExprPtr left, ExprPtr right, int line) {
        auto b = node(type, line);
        b->name = op;
        b->children.push_back(std::move(left));
        b->children.push_back(std::move(right));
        return done(std::move(b));
    }

    ExprPtr parse_or() {
        const int line = cur().line;
        ExprPtr left = parse_and();
        while (skip_name("or")) left = binary(Expr::Type::Or, "or", std::move(left), parse_and(), line);
        return left;
    }

    ExprPtr parse_and() {
        const int line = cur().line;
        ExprPtr left = parse_not();
        while (skip_name("and")) left = binary(Expr::Type::And, "and", std::move(left), parse_not(), line);
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            Nest nest(*this);
            auto n = node(Expr::Type::Not, cur().line);
            next();
            n->children.push_back(parse_not());
            return done(std::move(n));
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const int line = cur().line;
        ExprPtr first = parse_math1();
        auto cmp = node(Expr::Type::Compare, line);
        cmp->children.push_back(std::move(first));
        for (;;) {
            const Token& c = cur();
            std::string op;
            if (c.type == TokenType::Operator &&
                (c.value == "==" || c.value == "!=" || c.value == "<" || c.value == "<=" || c.value == ">" ||
                 c.value == ">=")) {
                op = c.value;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
                op = "not in";
                next();
                next();
            } else {
                break;
            }
            cmp->ops.push_back(op);
            cmp->children.push_back(parse_math1());
        }
        if (cmp->ops.empty()) return std::move(cmp->children[0]);
        return done(std::move(cmp));
    }

    ExprPtr parse_math1() {
        const int line = cur().line;
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            std::string op = next().value;
            left = binary(Expr::Type::Binary, op, std::move(left), parse_concat(), line);
        }
        return left;
    }

    ExprPtr parse_concat() {
        const int line = cur().line;
        ExprPtr left = parse_math2();
        while (skip_op("~")) left = binary(Expr::Type::Binary, "~", std::move(left), parse_math2(), line);
        return left;
    }

    ExprPtr parse_math2() {
        const int line = cur().line;
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            std::string op = next().value;
            left = binary(Expr::Type::Binary, op, std::move(left), parse_pow(), line);
        }
        return left;
    }

    ExprPtr parse_pow() {
        const int line = cur().line;
        ExprPtr left = parse_unary(true);
        while (skip_op("**")) left = binary(Expr::Type::Binary, "**", std::move(left), parse_unary(true), line);
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        Nest nest(*this);
        const int line = cur().line;
        ExprPtr expr;
        if (skip_op("-")) {
            expr = node(Expr::Type::Negate, line);
            expr->children.push_back(parse_unary(false));
            expr = done(std::move(expr));
        } else if (skip_op("+")) {
            expr = node(Expr::Type::Plus, line);
            expr->children.push_back(parse_unary(false));
            expr = done(std::move(expr));
        } else {
            expr = parse_primary();
        }
        expr = parse_postfix(std::move(expr));
        if (with_filter) expr = parse_filter_expr(std::move(expr));
        return expr;
    }

    ExprPtr parse_primary() {
        const Token& c = cur();
        const int line = c.line;
        switch (c.type) {
        case TokenType::Name: {
            auto e = node(Expr::Type::Literal, line);
            const std::string& n = c.value;
            if (n == "true" || n == "True") e->literal = Value::from(true);
            else if (n == "false" || n == "False") e->literal = Value::from(false);
            else if (n == "none" || n == "None") e->literal = Value::none();
            else {
                e->type = Expr::Type::Name;
                e->name = n;
            }
            next();
            return e;
        }
        case TokenType::String: {
            std::string s;
            while (cur().type == TokenType::String) s += next().value;  // adjacent literals concatenate
            auto e = node(Expr::Type::Literal, line);
            e->literal = Value::from(std::move(s));
            return e;
        }
        case TokenType::Integer: {
            auto e = node(Expr::Type::Literal, line);
            try {
                e->literal = Value::from(static_cast<std::int64_t>(std::stoll(c.value)));
            } catch (const std::out_of_range&) {
                fail("integer literal " + c.value + " is too large");
            }
            next();
            return e;
        }
        case TokenType::Float: {
            auto e = node(Expr::Type::Literal, line);
            e->literal = Value::from(std::strtod(c.value.c_str(), nullptr));  // 1e999 is inf, as in Python
            next();
            return e;
        }
        case TokenType::Operator:
            if (c.value == "(") {
                next();
                ExprPtr e = parse_tuple(true, {}, true);
                expect_op(")");
                return e;
            }
            if (c.value == "[") return parse_list();
            if (c.value == "{") return parse_dict();
            break;
        default: break;
        }
        fail("unexpected " + current_text());
    }

    ExprPtr parse_list() {
        auto e = node(Expr::Type::List, cur().line);
        expect_op("[");
        while (!is_op("]")) {
            if (!e->children.empty()) expect_op(",");
            if (is_op("]")) break;
            e->children.push_back(parse_expression(true));
        }
        next();
        return done(std::move(e));
    }

    ExprPtr parse_dict() {
        auto e = node(Expr::Type::Dict, cur().line);
        expect_op("{");
        while (!is_op("}")) {
            if (!e->children.empty()) expect_op(",");
            if (is_op("}")) break;
            e->children.push_back(parse_expression(true));
            expect_op(":");
            e->children.push_back(parse_expression(true));
        }
        next();
        return done(std::move(e));
    }

    ExprPtr parse_postfix(ExprPtr expr) {
        for (;;) {
            const int line = cur().line;
            if (skip_op(".")) {
                if (cur().type == TokenType::Integer) {
                    auto idx = node(Expr::Type::Literal, line);
                    try {
                        idx->literal = Value::from(static_cast<std::int64_t>(std::stoll(cur().value)));
                    } catch (const std::out_of_range&) {
                        fail("index " + cur().value + " is too large");
                    }
                    next();
                    auto g = node(Expr::Type::GetItem, line);
                    g->children.push_back(std::move(expr));
                    g->children.push_back(std::move(idx));
                    expr = done(std::move(g));
                } else {
                    auto g = node(Expr::Type::GetAttr, line);
                    g->name = expect_name("an attribute name after '.'");
                    g->children.push_back(std::move(expr));
                    expr = done(std::move(g));
                }
            } else if (is_op("[")) {
                expr = parse_subscript(std::move(expr));
            } else if (is_op("(")) {
                expr = parse_call(std::move(expr));
            } else {
                return expr;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr target) {
        const int line = cur().line;
        expect_op("[");
        ExprPtr start, stop, step;
        bool slice = false;
        if (!is_op(":")) start = parse_expression(true);
        if (skip_op(":")) {
            slice = true;
            if (!is_op("]") && !is_op(":")) stop = parse_expression(true);
            if (skip_op(":") && !is_op("]")) step = parse_expression(true);
        }
        if (is_op(",")) fail("tuple subscripts are not supported");
        expect_op("]");
        auto g = node(slice ? Expr::Type::Slice : Expr::Type::GetItem, line);
        g->children.push_back(std::move(target));
        g->children.push_back(std::move(start));
        if (slice) {
            g->children.push_back(std::move(stop));
            g->children.push_back(std::move(step));
        }
        return done(std::move(g));
    }

    void parse_call_args(Expr& call) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
            if (cur().type == TokenType::Name && peek().type == TokenType::Operator && peek().value == "=") {
                std::string key = next().value;
                next();
                call.kwargs.emplace_back(key, parse_expression(true));
            } else {
                if (!call.kwargs.empty()) fail("positional argument follows keyword argument");
                call.children.push_back(parse_expression(true));
            }
        }
        next();
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto c = node(Expr::Type::Call, cur().line);
        c->children.push_back(std::move(callee));
        parse_call_args(*c);
        return done(std::move(c));
    }

    ExprPtr parse_filter_expr(ExprPtr expr) {
        for (;;) {
            if (is_op("|")) expr = parse_filter(std::move(expr));
            else if (is_name("is")) expr = parse_test(std::move(expr));
            else if (is_op("(")) expr = parse_call(std::move(expr));
            else return expr;
        }
    }

    ExprPtr parse_filter(ExprPtr input) {
        const int line = cur().line;
        expect_op("|");
        auto f = node(Expr::Type::Filter, line);
        f->name = expect_name("a filter name after '|'");
        while (skip_op(".")) f->name.append(".").append(expect_name("a filter name"));
        // jinja2 rejects unknown filters when it compiles the template.
        if (!has_filter(f->name)) throw SyntaxError(line, "No filter named '" + f->name + "'.");
        f->children.push_back(std::move(input));
        if (is_op("(")) parse_call_args(*f);
        return done(std::move(f));
    }

    ExprPtr parse_test(ExprPtr input) {
        const int line = cur().line;
        next();  // is
        auto t = node(Expr::Type::Test, line);
        t->negated = skip_name("not");
        t->name = expect_name("a test name after 'is'");
        while (skip_op(".")) t->name.append(".").append(expect_name("a test name"));
        t->children.push_back(std::move(input));
        const Token& c = cur();
        if (is_op("(")) {
            parse_call_args(*t);
        } else if ((c.type == TokenType::Name || c.type == TokenType::String || c.type == TokenType::Integer ||
                    c.type == TokenType::Float || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
            if (is_name("is")) fail("you cannot chain multiple tests with 'is'");
            t->children.push_back(parse_postfix(parse_primary()));
        }
        return done(std::move(t));
    }
};

} // namespace

Body parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

} // namespace glq::io::jinja
