#pragma once
// The Export step: a finished GLQ checkpoint (the Quantize step's, or any
// folder) -> an HF folder in the reference glq format plus a model card
// (README.md: bpw map, calibration settings, perplexity when measured), on
// the window's Worker with progress and cancel. The folder appears complete
// or not at all. Perplexity is optional: measured on a chosen text for the
// checkpoint (and the source model, when asked) before the card is written.

#include <QWidget>

class QCheckBox;
class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTextBrowser;

namespace glq::session {
struct ExportOptions;
}

namespace glq::ui {

class JobProgressPanel;
class Worker;

class ExportView : public QWidget {
    Q_OBJECT
public:
    explicit ExportView(Worker* worker, QWidget* parent = nullptr);

    void setCheckpointDir(const QString& dir);  // also suggests an output folder
    QString checkpointDir() const;
    void setOutputDir(const QString& dir);
    QString outputDir() const;
    void setReplaceExisting(bool replace);
    // Perplexity on `text` (empty: not measured), windows of `seqlen`, at most `maxWindows` (0 = all).
    void setPerplexity(const QString& text, int seqlen = 512, int maxWindows = 0, bool ofSource = false);
    void setDevice(const QString& device);

    JobProgressPanel* progressPanel() const { return progress_; }
    QString modelCard() const;  // the last card written (Markdown)
    QString lastOutput() const { return lastOutput_; }

public slots:
    bool run();

signals:
    void exportStarted();
    void exportFinished(const QString& outputDir);
    void exportCancelled();
    // Any failure: settings refused before the start, or the job's error.
    void exportFailed(const QString& where, const QString& problem);
    // Settings refused before the start only (the job's own errors reach the
    // window through the Worker's failed()).
    void errorOccurred(const QString& where, const QString& problem);

private:
    void updateEnabled();
    void fail(const QString& where, const QString& problem);

    Worker* worker_;
    QLineEdit* checkpoint_;
    QLineEdit* output_;
    QLineEdit* name_;
    QCheckBox* replace_;
    QGroupBox* ppl_;
    QLineEdit* pplText_;
    QSpinBox* pplSeqlen_;
    QSpinBox* pplWindows_;
    QCheckBox* pplSource_;
    QComboBox* device_;
    QPushButton* run_;
    JobProgressPanel* progress_ = nullptr;
    QLabel* result_;
    QTextBrowser* card_;
    QString pendingOutput_;
    QString lastOutput_;
    QString cardText_;
};

} // namespace glq::ui
