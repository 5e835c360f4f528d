#include "ui/name_pattern.h"

namespace glq::ui {

NamePattern::NamePattern(const QString& pattern) : pattern_(pattern.trimmed()) {
    QString re;
    re.reserve(pattern_.size() * 2 + 4);
    re += QLatin1String("\\A");
    for (const QChar c : pattern_) {
        if (c == QLatin1Char('*')) {
            re += QLatin1String(".*");
            wildcard_ = true;
        } else if (c == QLatin1Char('?')) {
            re += QLatin1Char('.');
            wildcard_ = true;
        } else {
            re += QRegularExpression::escape(QString(c));
        }
    }
    re += QLatin1String("\\z");
    regex_ = QRegularExpression(re);
}

bool NamePattern::matches(const QString& name) const { return regex_.match(name).hasMatch(); }

} // namespace glq::ui
