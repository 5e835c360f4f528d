#pragma once
// A step whose engine facade is not part of this build yet (Quantize,
// Compare & chat, Export): the view says what the step will do and what it
// is waiting for, instead of offering buttons that cannot work.

#include <QWidget>

namespace glq::ui {

class PendingStepView : public QWidget {
    Q_OBJECT
public:
    PendingStepView(const QString& title, const QString& what, const QString& needs, QWidget* parent = nullptr);
};

} // namespace glq::ui
