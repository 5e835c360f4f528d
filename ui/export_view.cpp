#include "ui/export_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <memory>
#include <utility>

#include "core/session/job_session.h"
#include "ui/job_progress_panel.h"
#include "ui/worker.h"

namespace glq::ui {

namespace {
QHBoxLayout* with_browse(QLineEdit* edit, QPushButton* browse) {
    auto* row = new QHBoxLayout;
    row->addWidget(edit, 1);
    row->addWidget(browse);
    return row;
}
} // namespace

ExportView::ExportView(Worker* worker, QWidget* parent) : QWidget(parent), worker_(worker) {
    auto* box = new QGroupBox(tr("Export"));
    auto* form = new QFormLayout(box);
    checkpoint_ = new QLineEdit;
    checkpoint_->setPlaceholderText(tr("a quantized (GLQ) model folder, e.g. the Quantize step's output"));
    auto* browseIn = new QPushButton(tr("Browse…"));
    connect(browseIn, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Quantized model folder"), checkpoint_->text());
        if (!d.isEmpty()) setCheckpointDir(d);
    });
    form->addRow(tr("Quantized model:"), with_browse(checkpoint_, browseIn));
    output_ = new QLineEdit;
    output_->setPlaceholderText(tr("the HF folder to write (empty: add the model card in place)"));
    auto* browseOut = new QPushButton(tr("Browse…"));
    connect(browseOut, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getSaveFileName(this, tr("Export into folder"), output_->text(), QString(),
                                                       nullptr, QFileDialog::ShowDirsOnly);
        if (!d.isEmpty()) output_->setText(d);
    });
    form->addRow(tr("Output folder:"), with_browse(output_, browseOut));
    name_ = new QLineEdit;
    name_->setPlaceholderText(tr("the model card's title (default: the output folder's name)"));
    form->addRow(tr("Model name:"), name_);
    replace_ = new QCheckBox(tr("Replace an existing folder"));
    form->addRow(replace_);

    ppl_ = new QGroupBox(tr("Measure perplexity for the model card"));
    ppl_->setCheckable(true);
    ppl_->setChecked(false);
    auto* pf = new QFormLayout(ppl_);
    pplText_ = new QLineEdit;
    pplText_->setPlaceholderText(tr("held-out UTF-8 text, e.g. wikitext-2-raw/wiki.test.raw"));
    auto* browseText = new QPushButton(tr("Browse…"));
    connect(browseText, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Perplexity text"), pplText_->text(),
                                                       tr("Text (*.txt *.raw);;All files (*)"));
        if (!f.isEmpty()) pplText_->setText(f);
    });
    pf->addRow(tr("Text:"), with_browse(pplText_, browseText));
    pplSeqlen_ = new QSpinBox;
    pplSeqlen_->setRange(2, 1 << 17);
    pplSeqlen_->setValue(512);
    pplSeqlen_->setSuffix(tr(" tokens"));
    pf->addRow(tr("Window:"), pplSeqlen_);
    pplWindows_ = new QSpinBox;
    pplWindows_->setRange(0, 1 << 20);
    pplWindows_->setSpecialValueText(tr("all"));
    pf->addRow(tr("At most:"), pplWindows_);
    pplSource_ = new QCheckBox(tr("also the source (unquantized) model, for comparison"));
    pf->addRow(pplSource_);
    device_ = new QComboBox;
    JobProgressPanel::fillDeviceBox(device_);
    pf->addRow(tr("Device:"), device_);
    form->addRow(ppl_);

    run_ = new QPushButton(tr("Export"));
    run_->setObjectName(QStringLiteral("runExport"));
    connect(run_, &QPushButton::clicked, this, &ExportView::run);
    progress_ = new JobProgressPanel(worker_);
    auto* runRow = new QHBoxLayout;
    runRow->addWidget(run_);
    runRow->addWidget(progress_, 1);
    form->addRow(runRow);
    result_ = new QLabel;
    result_->setWordWrap(true);
    result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(result_);

    card_ = new QTextBrowser;
    card_->setPlaceholderText(tr("The model card (README.md) appears here once written."));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(box);
    layout->addWidget(card_, 1);

    connect(checkpoint_, &QLineEdit::textChanged, this, &ExportView::updateEnabled);
    connect(progress_, &JobProgressPanel::finished, this, [this] {
        lastOutput_ = std::exchange(pendingOutput_, QString());
        QFile f(lastOutput_ + QStringLiteral("/README.md"));
        cardText_ = f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
        // The YAML front matter is for the Hub; the preview shows the card's body.
        QString body = cardText_;
        if (body.startsWith(QLatin1String("---\n"))) {
            const qsizetype end = body.indexOf(QLatin1String("\n---\n"), 4);
            if (end >= 0) body = body.mid(end + 5);
        }
        card_->setMarkdown(body);
        result_->setText(tr("Wrote %1 with its model card (README.md).").arg(lastOutput_));
        updateEnabled();
        emit exportFinished(lastOutput_);
    });
    connect(progress_, &JobProgressPanel::cancelled, this, [this] {
        result_->setText(tr("Cancelled: nothing was written to %1.").arg(std::exchange(pendingOutput_, QString())));
        updateEnabled();
        emit exportCancelled();
    });
    connect(progress_, &JobProgressPanel::failed, this, [this](const QString& where, const QString& problem) {
        pendingOutput_.clear();
        result_->setText(tr("Failed: %1").arg(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem));
        updateEnabled();
        emit exportFailed(where, problem);
    });
    updateEnabled();
}

void ExportView::setCheckpointDir(const QString& dir) {
    checkpoint_->setText(dir);
    if (output_->text().isEmpty() && !dir.isEmpty()) {
        const QFileInfo info(dir);
        output_->setText(info.absoluteDir().filePath(info.fileName() + QStringLiteral("-hf")));
    }
}

QString ExportView::checkpointDir() const { return checkpoint_->text().trimmed(); }
void ExportView::setOutputDir(const QString& dir) { output_->setText(dir); }
QString ExportView::outputDir() const { return output_->text().trimmed(); }
void ExportView::setReplaceExisting(bool replace) { replace_->setChecked(replace); }

void ExportView::setPerplexity(const QString& text, int seqlen, int maxWindows, bool ofSource) {
    ppl_->setChecked(!text.isEmpty());
    pplText_->setText(text);
    pplSeqlen_->setValue(seqlen);
    pplWindows_->setValue(maxWindows);
    pplSource_->setChecked(ofSource);
}

void ExportView::setDevice(const QString& device) {
    const int i = device_->findText(device);
    if (i >= 0) device_->setCurrentIndex(i);
}

QString ExportView::modelCard() const { return cardText_; }

void ExportView::updateEnabled() {
    const bool busy = progress_ && progress_->isTracking();
    run_->setEnabled(!busy && !checkpointDir().isEmpty());
}

void ExportView::fail(const QString& where, const QString& problem) {
    result_->setText(tr("Failed: %1").arg(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem));
    emit errorOccurred(where, problem);
    emit exportFailed(where, problem);
}

bool ExportView::run() {
    if (checkpointDir().isEmpty()) {
        fail(tr("Export"), tr("no quantized model chosen"));
        return false;
    }
    if (ppl_->isChecked() && pplText_->text().trimmed().isEmpty()) {
        fail(tr("Perplexity"), tr("no text chosen (untick the perplexity box to skip it)"));
        return false;
    }
    if (worker_->isRunning()) {
        fail(checkpointDir(), tr("another job is running (%1); wait for it or cancel it first").arg(worker_->title()));
        return false;
    }
    glq::session::ExportOptions o;
    o.checkpoint_dir = checkpointDir().toStdString();
    o.output_dir = outputDir().toStdString();
    o.replace_existing = replace_->isChecked();
    o.model_name = name_->text().trimmed().toStdString();
    if (ppl_->isChecked()) {
        o.perplexity_text = pplText_->text().trimmed().toStdString();
        o.perplexity_seqlen = pplSeqlen_->value();
        o.perplexity_max_windows = pplWindows_->value();
        o.perplexity_of_source = pplSource_->isChecked();
        o.device = device_->currentText().toStdString();
    }
    const QString out = outputDir().isEmpty() ? checkpointDir() : outputDir();
    const bool started = worker_->start(tr("Exporting %1").arg(QFileInfo(out).fileName()),
                                        [o](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
                                            glq::session::export_model(o, report, &cancel);
                                        });
    if (!started) return false;
    pendingOutput_ = out;
    lastOutput_.clear();
    result_->clear();
    progress_->track();
    updateEnabled();
    emit exportStarted();
    return true;
}

} // namespace glq::ui
