#include "ui/pending_step_view.h"

#include <QLabel>
#include <QVBoxLayout>

namespace glq::ui {

PendingStepView::PendingStepView(const QString& title, const QString& what, const QString& needs, QWidget* parent)
    : QWidget(parent) {
    auto* label = new QLabel(tr("<h2>%1</h2><p>%2</p><p style='color:#a15c00'><b>Not available in this build:</b> %3</p>")
                                 .arg(title.toHtmlEscaped(), what.toHtmlEscaped(), needs.toHtmlEscaped()));
    label->setWordWrap(true);
    label->setTextFormat(Qt::RichText);
    label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(label);
    layout->addStretch(1);
}

} // namespace glq::ui
