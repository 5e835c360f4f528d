#pragma once
// The syntax tree of a parsed Jinja template: expressions and statements,
// each remembering its template line for error messages.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/jinja_value.h"

namespace glq::io::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;
using KeywordArgs = std::vector<std::pair<std::string, ExprPtr>>;

struct Expr {
    enum class Type {
        Literal,   // literal
        Name,      // name
        List,      // children = items
        Tuple,     // children = items
        Dict,      // children = key0, value0, key1, value1, ...
        GetAttr,   // children[0].name
        GetItem,   // children[0][children[1]]
        Slice,     // children[0][children[1]:children[2]:children[3]] (null = omitted)
        Call,      // children[0](children[1..], kwargs)
        Filter,    // children[0] | name(children[1..], kwargs)
        Test,      // children[0] is [not] name(children[1..], kwargs)
        Negate,    // -children[0]
        Plus,      // +children[0]
        Not,       // not children[0]
        Binary,    // children[0] name children[1]: + - * / // % ** ~
        And,
        Or,
        Compare,   // children[0] ops[0] children[1] ops[1] children[2] ...
        Condition, // children[1] if children[0] else children[2] (null = undefined)
    };
    Type type;
    int line;
    Value literal;
    std::string name;
    std::vector<ExprPtr> children;
    KeywordArgs kwargs;
    std::vector<std::string> ops;
    bool negated = false;
    int depth = 1;  // of this subtree: 1 + its deepest child (the parser bounds it)

    Expr(Type t, int l) : type(t), line(l) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null = required
};

struct Stmt {
    enum class Type {
        Text,      // text
        Output,    // {{ expr }}
        If,        // branches (condition, body); else_body
        For,       // for target in expr [if filter]: body; else_body
        Set,       // set target = expr
        SetBlock,  // set target %}body{% endset
        Macro,     // macro name(params): body
        Break,
        Continue,
        Scope,     // a body rendered as is ({% generation %})
        FilterBlock,  // body rendered, then passed through expr (a Filter chain whose innermost input is null)
    };
    Type type;
    int line;
    std::string text;
    ExprPtr target;  // Name, Tuple of Names, or GetAttr of a Name (namespace attribute)
    ExprPtr expr;
    ExprPtr filter;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body, else_body;
    std::string name;
    std::vector<MacroParam> params;

    Stmt(Type t, int l) : type(t), line(l) {}
};

} // namespace glq::io::jinja
