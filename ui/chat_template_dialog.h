#pragma once
// The chat template of one Compare & chat pane, to view and edit: the Jinja
// source in use (the model's own, the plain one for models that ship none,
// or the user's), whether the tokenizer adds its special tokens to the
// rendered text, and a preview of the prompt the model would see for the
// current conversation. Apply adopts it (a template that does not parse is
// shown with its line and not adopted); "Model's template" goes back.

#include <QDialog>

class QCheckBox;
class QLabel;
class QPlainTextEdit;

namespace glq::ui {

class ChatPane;

class ChatTemplateDialog : public QDialog {
    Q_OBJECT
public:
    ChatTemplateDialog(ChatPane* pane, QWidget* parent = nullptr);

    QPlainTextEdit* editor() const { return editor_; }
    QPlainTextEdit* preview() const { return preview_; }

public slots:
    void updatePreview();
    // Adopts the edited template; false (and the error shown) when it does not parse.
    bool apply();
    void resetToModel();

private:
    ChatPane* pane_;
    QLabel* origin_;
    QPlainTextEdit* editor_;
    QCheckBox* addSpecial_;
    QPlainTextEdit* preview_;
    QLabel* error_;
};

} // namespace glq::ui
