#include "ui/chat_template_dialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFontDatabase>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/chat_pane.h"

namespace glq::ui {

ChatTemplateDialog::ChatTemplateDialog(ChatPane* pane, QWidget* parent) : QDialog(parent), pane_(pane) {
    setWindowTitle(tr("Chat template — %1").arg(pane->title()));
    resize(820, 640);
    const QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);

    origin_ = new QLabel;
    origin_->setWordWrap(true);
    editor_ = new QPlainTextEdit;
    editor_->setFont(mono);
    editor_->setLineWrapMode(QPlainTextEdit::NoWrap);
    addSpecial_ = new QCheckBox(tr("The tokenizer adds its special tokens (BOS) to the rendered text"));
    addSpecial_->setToolTip(tr("Off for chat templates that write bos_token themselves (most do); "
                               "on for plain-text templates"));
    preview_ = new QPlainTextEdit;
    preview_->setReadOnly(true);
    preview_->setFont(mono);
    preview_->setPlaceholderText(tr("the prompt the model would see"));
    error_ = new QLabel;
    error_->setWordWrap(true);
    error_->setStyleSheet(QStringLiteral("color:#b00020"));

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(editor_);
    auto* previewBox = new QWidget;
    auto* pl = new QVBoxLayout(previewBox);
    pl->setContentsMargins(0, 0, 0, 0);
    pl->addWidget(new QLabel(tr("Preview (the current conversation, with the generation prompt):")));
    pl->addWidget(preview_);
    split->addWidget(previewBox);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Apply | QDialogButtonBox::Close);
    QPushButton* reset = buttons->addButton(tr("Model's template"), QDialogButtonBox::ResetRole);
    connect(buttons->button(QDialogButtonBox::Apply), &QPushButton::clicked, this, [this] {
        if (apply()) accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(reset, &QPushButton::clicked, this, &ChatTemplateDialog::resetToModel);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(origin_);
    layout->addWidget(split, 1);
    layout->addWidget(addSpecial_);
    layout->addWidget(error_);
    layout->addWidget(buttons);

    if (const auto info = pane_->chatTemplate()) {
        editor_->setPlainText(QString::fromStdString(info->source));
        addSpecial_->setChecked(info->add_special_tokens);
        origin_->setText(info->overridden ? tr("Your template (the model's is one click away).")
                         : info->from_model ? tr("The model's own template (tokenizer_config.json).")
                                            : tr("This model ships no chat template: a plain one joins the "
                                                 "messages with newlines, and the tokenizer adds BOS."));
    }
    // Preview as the user types, but not on every keystroke.
    auto* debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(300);
    connect(debounce, &QTimer::timeout, this, &ChatTemplateDialog::updatePreview);
    connect(editor_, &QPlainTextEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    updatePreview();
}

void ChatTemplateDialog::updatePreview() {
    QString error;
    const QString text = pane_->previewChatTemplate(editor_->toPlainText(), &error);
    error_->setText(error);
    if (error.isEmpty()) preview_->setPlainText(text);
}

bool ChatTemplateDialog::apply() {
    QString error;
    if (!pane_->setChatTemplate(editor_->toPlainText(), addSpecial_->isChecked(), &error)) {
        error_->setText(error.isEmpty() ? tr("the pane is busy: try again when the answer has ended") : error);
        return false;
    }
    error_->clear();
    return true;
}

void ChatTemplateDialog::resetToModel() {
    if (!pane_->resetChatTemplate()) return;
    if (const auto info = pane_->chatTemplate()) {
        editor_->setPlainText(QString::fromStdString(info->source));
        addSpecial_->setChecked(info->add_special_tokens);
        origin_->setText(info->from_model ? tr("The model's own template (tokenizer_config.json).")
                                          : tr("This model ships no chat template: the plain one."));
    }
    updatePreview();
}

} // namespace glq::ui
