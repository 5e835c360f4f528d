#pragma once
// The log: a dock with every message the workbench shows the user (errors,
// finished jobs, saved files), time-stamped, so nothing shown in a dialog or
// the status bar is lost once it disappears.

#include <QDockWidget>

class QPlainTextEdit;

namespace glq::ui {

class LogDock : public QDockWidget {
    Q_OBJECT
public:
    enum class Level { Info, Warning, Error };
    explicit LogDock(QWidget* parent = nullptr);
    QString text() const;

public slots:
    void info(const QString& message) { append(Level::Info, message); }
    void warning(const QString& message) { append(Level::Warning, message); }
    void error(const QString& message) { append(Level::Error, message); }
    void append(glq::ui::LogDock::Level level, const QString& message);

private:
    QPlainTextEdit* view_;
};

} // namespace glq::ui
