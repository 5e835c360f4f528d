#pragma once
// Layer-name patterns for the filter box and "set bpw by pattern":
// `*` matches any run of characters (dots included), `?` one character,
// everything else is literal. The whole name must match:
// "*.mlp.down_proj" picks every down projection, "model.layers.1?.*" the
// blocks 10-19.

#include <QRegularExpression>
#include <QString>

namespace glq::ui {

class NamePattern {
public:
    explicit NamePattern(const QString& pattern);
    bool matches(const QString& name) const;
    bool isWildcard() const { return wildcard_; }
    const QString& pattern() const { return pattern_; }

private:
    QString pattern_;
    bool wildcard_ = false;
    QRegularExpression regex_;
};

} // namespace glq::ui
