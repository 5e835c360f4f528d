#pragma once
// A step whose view is not wired into the window yet (now only Compare &
// chat): the view says what the step will do and what it is waiting for,
// instead of offering buttons that cannot work.

#include <QWidget>

namespace glq::ui {

class PendingStepView : public QWidget {
    Q_OBJECT
public:
    PendingStepView(const QString& title, const QString& what, const QString& needs, QWidget* parent = nullptr);
};

} // namespace glq::ui
