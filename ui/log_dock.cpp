#include "ui/log_dock.h"

#include <QDateTime>
#include <QPlainTextEdit>

namespace glq::ui {

LogDock::LogDock(QWidget* parent) : QDockWidget(tr("Log"), parent) {
    setObjectName(QStringLiteral("logDock"));  // for saveState()
    view_ = new QPlainTextEdit;
    view_->setReadOnly(true);
    view_->setMaximumBlockCount(10000);
    view_->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    setWidget(view_);
}

QString LogDock::text() const { return view_->toPlainText(); }

void LogDock::append(Level level, const QString& message) {
    const QString stamp = QTime::currentTime().toString(QStringLiteral("HH:mm:ss"));
    const char* tag = level == Level::Error ? "error" : level == Level::Warning ? "warning" : "info";
    const QString color = level == Level::Error ? QStringLiteral("#b00020")
                          : level == Level::Warning ? QStringLiteral("#a15c00") : QStringLiteral("#202020");
    view_->appendHtml(QStringLiteral("<span style='color:%1'>%2 [%3] %4</span>")
                          .arg(color, stamp, QLatin1String(tag), message.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>"))));
}

} // namespace glq::ui
