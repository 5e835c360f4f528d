#include "ui/calibration_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>
#include <utility>

#include "core/plan/sensitivity.h"
#include "ui/job_progress_panel.h"
#include "ui/sensitivity_plots.h"
#include "ui/worker.h"

namespace glq::ui {

CalibrationView::CalibrationView(BpwMapModel* model, Worker* worker, QWidget* parent)
    : QWidget(parent), worker_(worker) {
    auto* box = new QGroupBox(tr("Calibration"));
    auto* form = new QFormLayout(box);
    text_ = new QLineEdit;
    text_->setPlaceholderText(tr("the bundled Brown corpus; or plain text (.txt) or gzip (.gz) files, separated by ;"));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QStringList f = QFileDialog::getOpenFileNames(this, tr("Calibration text"),
                                                            text_->text().section(QLatin1Char(';'), 0, 0),
                                                            tr("Text (*.txt *.gz *.raw);;All files (*)"));
        if (!f.isEmpty()) text_->setText(f.join(QLatin1Char(';')));
    });
    auto* textRow = new QHBoxLayout;
    textRow->addWidget(text_, 1);
    textRow->addWidget(browse);
    nsamples_ = new QSpinBox;
    nsamples_->setRange(1, 1 << 16);
    nsamples_->setSuffix(tr(" sequences"));
    seqlen_ = new QSpinBox;
    seqlen_->setRange(16, 1 << 17);
    seqlen_->setSuffix(tr(" tokens"));
    seed_ = new QSpinBox;
    seed_->setRange(0, INT32_MAX);
    contiguous_ = new QCheckBox(tr("In order"));
    contiguous_->setToolTip(tr("Take the first nsamples x seqlen tokens of the text in order (the reference's "
                               "protocol) instead of windows drawn with the seed"));
    connect(contiguous_, &QCheckBox::toggled, this, [this](bool on) { seed_->setEnabled(!on); });
    useCache_ = new QCheckBox(tr("Hessian cache:"));
    useCache_->setToolTip(tr("Reuse Hessians captured by an earlier run with the same model and calibration, and "
                             "keep the ones this run captures"));
    cacheDir_ = new QLineEdit;
    cacheDir_->setPlaceholderText(tr("the default folder (~/.cache/glq-workbench/hessians)"));
    connect(useCache_, &QCheckBox::toggled, cacheDir_, &QLineEdit::setEnabled);
    device_ = new QComboBox;
    JobProgressPanel::fillDeviceBox(device_);
    device_->setToolTip(tr("CUDA devices are listed when this build and machine can use them"));
    streaming_ = new QComboBox;
    streaming_->setObjectName(QStringLiteral("profileLayerStreaming"));
    JobProgressPanel::fillStreamingBox(streaming_);
    tune_ = new QComboBox;
    tune_->setObjectName(QStringLiteral("profileTunePasses"));
    JobProgressPanel::fillTuneBox(tune_);
    tune_->setToolTip(tune_->toolTip() + tr(" The profile measures each rate with these passes, as the Quantize "
                                            "step's own setting will quantize it."));
    rates_ = new QLineEdit(QStringLiteral("2,3,4,5,6,7,8"));
    rates_->setToolTip(tr("bits per weight to measure each linear at (2..8, comma-separated)"));
    // Two settings rows rather than five: the plots below get the height.
    auto* windowsRow = new QHBoxLayout;
    windowsRow->addWidget(nsamples_);
    windowsRow->addSpacing(12);
    windowsRow->addWidget(new QLabel(tr("seqlen:")));
    windowsRow->addWidget(seqlen_);
    windowsRow->addSpacing(12);
    windowsRow->addWidget(new QLabel(tr("Seed:")));
    windowsRow->addWidget(seed_);
    windowsRow->addSpacing(12);
    windowsRow->addWidget(contiguous_);
    windowsRow->addStretch(1);
    auto* cacheRow = new QHBoxLayout;
    cacheRow->addWidget(useCache_);
    cacheRow->addWidget(cacheDir_, 1);
    auto* deviceRow = new QHBoxLayout;
    deviceRow->addWidget(device_);
    deviceRow->addSpacing(12);
    deviceRow->addWidget(new QLabel(tr("Layer streaming:")));
    deviceRow->addWidget(streaming_);
    deviceRow->addSpacing(12);
    deviceRow->addWidget(new QLabel(tr("Rates (bpw):")));
    deviceRow->addWidget(rates_, 1);
    deviceRow->addSpacing(12);
    deviceRow->addWidget(new QLabel(tr("Tuning passes:")));
    deviceRow->addWidget(tune_);
    form->addRow(tr("Text:"), textRow);
    form->addRow(tr("nsamples:"), windowsRow);
    form->addRow(tr("Device:"), deviceRow);
    form->addRow(cacheRow);
    run_ = new QPushButton(tr("Run calibration && profiling"));
    run_->setObjectName(QStringLiteral("runProfile"));
    connect(run_, &QPushButton::clicked, this, &CalibrationView::run);
    auto* load = new QPushButton(tr("Load sensitivity table…"));
    connect(load, &QPushButton::clicked, this, &CalibrationView::loadSensitivityRequested);
    source_ = new QLabel(tr("No sensitivity table loaded."));
    source_->setWordWrap(true);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(run_);
    buttons->addWidget(load);
    buttons->addWidget(source_, 1);
    form->addRow(buttons);
    progress_ = new JobProgressPanel(worker_);
    form->addRow(progress_);
    setSettings({});

    connect(progress_, &JobProgressPanel::finished, this, [this] {
        updateRunEnabled();
        emit profileFinished(std::exchange(pendingTable_, QString()));
    });
    connect(progress_, &JobProgressPanel::cancelled, this, [this] {
        pendingTable_.clear();
        updateRunEnabled();
        emit profileCancelled();
    });
    connect(progress_, &JobProgressPanel::failed, this, [this](const QString& where, const QString& problem) {
        pendingTable_.clear();
        updateRunEnabled();
        emit profileFailed(where, problem);
    });

    plots_ = new SensitivityPlots(model);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(box);
    layout->addWidget(plots_, 1);
    updateRunEnabled();
}

CalibrationSettings CalibrationView::settings() const {
    return {text_->text(),           nsamples_->value(),     seqlen_->value(), seed_->value(),
            contiguous_->isChecked(), useCache_->isChecked(), cacheDir_->text()};
}

void CalibrationView::setSettings(const CalibrationSettings& s) {
    text_->setText(s.text_path);
    nsamples_->setValue(s.nsamples);
    seqlen_->setValue(s.seqlen);
    seed_->setValue(s.seed);
    contiguous_->setChecked(s.contiguous);
    seed_->setEnabled(!s.contiguous);
    useCache_->setChecked(s.use_cache);
    cacheDir_->setText(s.cache_dir);
    cacheDir_->setEnabled(s.use_cache);
}

void CalibrationView::saveSettings(QSettings& s) const {
    const CalibrationSettings c = settings();
    s.setValue(QStringLiteral("calibration/text"), c.text_path);
    s.setValue(QStringLiteral("calibration/nsamples"), c.nsamples);
    s.setValue(QStringLiteral("calibration/seqlen"), c.seqlen);
    s.setValue(QStringLiteral("calibration/seed"), c.seed);
    s.setValue(QStringLiteral("calibration/contiguous"), c.contiguous);
    s.setValue(QStringLiteral("calibration/useCache"), c.use_cache);
    s.setValue(QStringLiteral("calibration/cacheDir"), c.cache_dir);
    s.setValue(QStringLiteral("calibration/rates"), rates_->text());
    s.setValue(QStringLiteral("calibration/layerStreaming"), streaming_->currentData().toString());
    s.setValue(QStringLiteral("calibration/tunePasses"), tune_->currentData().toInt());
    plots_->saveSettings(s, QStringLiteral("calibration/plots"));
}

void CalibrationView::loadSettings(QSettings& s) {
    const CalibrationSettings d;
    setSettings({s.value(QStringLiteral("calibration/text"), d.text_path).toString(),
                 s.value(QStringLiteral("calibration/nsamples"), d.nsamples).toInt(),
                 s.value(QStringLiteral("calibration/seqlen"), d.seqlen).toInt(),
                 s.value(QStringLiteral("calibration/seed"), d.seed).toInt(),
                 s.value(QStringLiteral("calibration/contiguous"), d.contiguous).toBool(),
                 s.value(QStringLiteral("calibration/useCache"), d.use_cache).toBool(),
                 s.value(QStringLiteral("calibration/cacheDir"), d.cache_dir).toString()});
    setRates(s.value(QStringLiteral("calibration/rates"), rates_->text()).toString());
    JobProgressPanel::selectData(streaming_,
                                 s.value(QStringLiteral("calibration/layerStreaming"), QStringLiteral("auto")).toString());
    JobProgressPanel::selectData(tune_, s.value(QStringLiteral("calibration/tunePasses"), -1).toInt());
    plots_->loadSettings(s, QStringLiteral("calibration/plots"));
}

void CalibrationView::setDevice(const QString& device) {
    const int i = device_->findText(device);
    if (i >= 0) device_->setCurrentIndex(i);
}

QString CalibrationView::device() const { return device_->currentText(); }

void CalibrationView::setSensitivitySource(const QString& text) { source_->setText(text); }

void CalibrationView::setModelDir(const QString& dir) {
    modelDir_ = dir;
    updateRunEnabled();
}

void CalibrationView::setRates(const QString& rates) { rates_->setText(rates); }

std::vector<int> CalibrationView::rates() const {
    std::vector<int> out;
    for (const QString& item : rates_->text().split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int b = item.trimmed().toInt(&ok);
        if (!ok || b < 2 || b > 8) return {};
        out.push_back(b);
    }
    return out;
}

glq::session::JobOptions CalibrationView::jobOptions() const {
    glq::session::JobOptions o;
    o.model_dir = modelDir_.toStdString();
    const CalibrationSettings c = settings();
    for (const QString& f : c.text_path.split(QLatin1Char(';'), Qt::SkipEmptyParts))
        if (!f.trimmed().isEmpty()) o.calibration.text_files.push_back(f.trimmed().toStdString());
    o.calibration.nsamples = c.nsamples;
    o.calibration.seqlen = c.seqlen;
    o.calibration.seed = static_cast<uint64_t>(c.seed);
    o.calibration.contiguous = c.contiguous;
    o.use_cache = c.use_cache;
    o.cache_dir = c.cache_dir.trimmed().toStdString();
    o.device = device().toStdString();
    o.layer_streaming = streaming_->currentData().toString().toStdString();
    o.tune_iters = tune_->currentData().toInt();
    return o;
}

void CalibrationView::updateRunEnabled() {
    const bool busy = progress_ && progress_->isTracking();
    run_->setEnabled(!modelDir_.isEmpty() && !busy);
    run_->setToolTip(modelDir_.isEmpty() ? tr("Open a model first (Model step)")
                                         : tr("Calibrate %1 and measure every linear's proxy loss at each rate")
                                               .arg(QFileInfo(modelDir_).fileName()));
}

void CalibrationView::fail(const QString& where, const QString& problem) {
    emit errorOccurred(where, problem);
    emit profileFailed(where, problem);
}

bool CalibrationView::run() {
    if (modelDir_.isEmpty()) {
        fail(tr("Calibration"), tr("no model is open"));
        return false;
    }
    const std::vector<int> bpws = rates();
    if (bpws.empty()) {
        fail(tr("Rates (bpw)"), tr("'%1' is not a comma-separated list of integers 2..8").arg(rates_->text()));
        return false;
    }
    if (worker_->isRunning()) {
        fail(modelDir_, tr("another job is running (%1); wait for it or cancel it first").arg(worker_->title()));
        return false;
    }
    QString dir = tableDir_;
    if (dir.isEmpty())
        dir = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/sensitivity");
    QDir().mkpath(dir);
    const QString path = QDir(dir).filePath(QFileInfo(modelDir_).fileName() + QStringLiteral(".json"));
    const glq::session::JobOptions options = jobOptions();
    const std::string target = path.toStdString();
    const bool started = worker_->start(
        tr("Profiling %1").arg(QFileInfo(modelDir_).fileName()),
        [options, bpws, target](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
            glq::session::JobCallbacks cb;
            cb.progress = report;
            cb.cancel = &cancel;
            glq::session::profile(options, bpws, cb).save(target);  // atomic
        });
    if (!started) return false;
    pendingTable_ = path;
    progress_->track();
    updateRunEnabled();
    emit profileStarted();
    return true;
}

} // namespace glq::ui
