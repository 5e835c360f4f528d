#include "ui/quantize_view.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QRadioButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QTime>
#include <QVBoxLayout>
#include <qcustomplot.h>
#include <algorithm>
#include <cmath>
#include <utility>

#include "ui/bpw_map_model.h"
#include "ui/job_progress_panel.h"
#include "ui/model_summary.h"
#include "ui/plot_panel.h"
#include "ui/worker.h"

namespace glq::ui {

namespace {

QColor bpw_color(int bpw) {
    // Low rates warm, high rates cool: the eye reads "red = aggressive".
    static const QColor colors[] = {QColor(0xd6, 0x27, 0x28), QColor(0xff, 0x7f, 0x0e), QColor(0xbc, 0xbd, 0x22),
                                    QColor(0x2c, 0xa0, 0x2c), QColor(0x17, 0xbe, 0xcf), QColor(0x1f, 0x77, 0xb4),
                                    QColor(0x94, 0x67, 0xbd)};
    return colors[std::clamp(bpw, 2, 8) - 2];
}

} // namespace

QuantizeView::QuantizeView(BpwMapModel* map, Worker* worker, QWidget* parent)
    : QWidget(parent), map_(map), worker_(worker) {
    auto* box = new QGroupBox(tr("Quantize"));
    auto* form = new QFormLayout(box);
    model_ = new QLabel(tr("No model open."));
    model_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(tr("Model:"), model_);

    useMap_ = new QRadioButton(tr("bpw map of the bpw map step"));
    useTarget_ = new QRadioButton(tr("Target bpw:"));
    auto* group = new QButtonGroup(this);
    group->addButton(useMap_);
    group->addButton(useTarget_);
    useTarget_->setChecked(true);
    mapSummary_ = new QLabel;
    target_ = new QDoubleSpinBox;
    target_->setRange(2.0, 8.0);
    target_->setDecimals(2);
    target_->setSingleStep(0.25);
    target_->setValue(4.0);
    target_->setSuffix(tr(" bpw"));
    target_->setToolTip(tr("An integer quantizes every linear at that rate; a fraction profiles every linear and "
                           "lets the allocator choose rates in [min, max] averaging at most the target"));
    minBpw_ = new QSpinBox;
    minBpw_->setRange(2, 8);
    minBpw_->setValue(2);
    maxBpw_ = new QSpinBox;
    maxBpw_->setRange(2, 8);
    maxBpw_->setValue(8);
    auto* mapRow = new QHBoxLayout;
    mapRow->addWidget(useMap_);
    mapRow->addWidget(mapSummary_, 1);
    auto* targetRow = new QHBoxLayout;
    targetRow->addWidget(useTarget_);
    targetRow->addWidget(target_);
    targetRow->addWidget(new QLabel(tr("min")));
    targetRow->addWidget(minBpw_);
    targetRow->addWidget(new QLabel(tr("max")));
    targetRow->addWidget(maxBpw_);
    targetRow->addStretch(1);
    auto* rates = new QVBoxLayout;
    rates->addLayout(mapRow);
    rates->addLayout(targetRow);
    form->addRow(tr("Rates:"), rates);

    device_ = new QComboBox;
    JobProgressPanel::fillDeviceBox(device_);
    streaming_ = new QComboBox;
    streaming_->setObjectName(QStringLiteral("layerStreaming"));
    JobProgressPanel::fillStreamingBox(streaming_);
    auto* deviceRow = new QHBoxLayout;
    deviceRow->addWidget(device_);
    deviceRow->addSpacing(12);
    deviceRow->addWidget(new QLabel(tr("Layer streaming:")));
    deviceRow->addWidget(streaming_);
    deviceRow->addStretch(1);
    form->addRow(tr("Device:"), deviceRow);

    output_ = new QLineEdit;
    output_->setPlaceholderText(tr("the checkpoint folder to write"));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getSaveFileName(this, tr("Checkpoint folder"), output_->text(), QString(),
                                                       nullptr, QFileDialog::ShowDirsOnly);
        if (!d.isEmpty()) output_->setText(d);
    });
    auto* outRow = new QHBoxLayout;
    outRow->addWidget(output_, 1);
    outRow->addWidget(browse);
    form->addRow(tr("Output:"), outRow);

    replace_ = new QCheckBox(tr("Replace an existing folder"));
    resume_ = new QCheckBox(tr("Resume a cancelled run"));
    resume_->setToolTip(tr("Reuse the linears a cancelled run with the same settings finished (<output>.glq-resume)"));
    propagate_ = new QCheckBox(tr("Sequential propagation"));
    propagate_->setChecked(true);
    propagate_->setToolTip(tr("Each block's Hessians from inputs that went through the quantized blocks before "
                              "(the reference's pipeline); off: all from the unquantized model"));
    auto* flags = new QHBoxLayout;
    flags->addWidget(replace_);
    flags->addWidget(resume_);
    flags->addWidget(propagate_);
    flags->addStretch(1);
    form->addRow(flags);

    tune_ = new QComboBox;
    tune_->setObjectName(QStringLiteral("tunePasses"));
    JobProgressPanel::fillTuneBox(tune_);
    form->addRow(tr("Tuning passes:"), tune_);

    run_ = new QPushButton(tr("Quantize"));
    run_->setObjectName(QStringLiteral("runQuantize"));
    connect(run_, &QPushButton::clicked, this, &QuantizeView::run);
    progress_ = new JobProgressPanel(worker_);
    auto* runRow = new QHBoxLayout;
    runRow->addWidget(run_);
    runRow->addWidget(progress_, 1);
    form->addRow(runRow);
    blockLabel_ = new QLabel(tr("Block:"));
    blockBar_ = new QProgressBar;
    blockBar_->setRange(0, 1);
    blockBar_->setValue(0);
    blockBar_->setFormat(QString());
    form->addRow(blockLabel_, blockBar_);

    result_ = new QLabel;
    result_->setWordWrap(true);
    result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    compare_ = new QPushButton(tr("Compare…"));
    compare_->setToolTip(tr("Run the quantized model and the original side by side"));
    export_ = new QPushButton(tr("Export…"));
    compare_->setEnabled(false);
    export_->setEnabled(false);
    connect(compare_, &QPushButton::clicked, this, [this] { emit compareRequested(modelDir_, lastOutput_); });
    connect(export_, &QPushButton::clicked, this, [this] { emit exportRequested(lastOutput_); });
    auto* resultRow = new QHBoxLayout;
    resultRow->addWidget(result_, 1);
    resultRow->addWidget(compare_);
    resultRow->addWidget(export_);
    form->addRow(resultRow);

    log_ = new QPlainTextEdit;
    log_->setReadOnly(true);
    log_->setLineWrapMode(QPlainTextEdit::NoWrap);  // one line per linear, columns aligned
    log_->setMaximumBlockCount(20000);
    log_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    log_->setPlaceholderText(tr("The job's log: one line per finished linear, cache hits, resume, allocation."));

    plot_ = new PlotPanel(tr("Proxy loss per linear"));
    QCustomPlot* p = plot_->plot();
    p->xAxis->setLabel(tr("linear layer (index, in quantization order)"));
    p->yAxis->setLabel(tr("proxy loss tr(ΔW·H·ΔWᵀ)/m (output units², log scale)"));
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    p->yAxis->setNumberFormat(QStringLiteral("eb"));
    p->yAxis->setNumberPrecision(0);
    p->legend->setVisible(false);  // shown once a rate has points
    // The legend in a row of its own above the axes: inside, it hid points.
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(0, 0.001);
    p->plotLayout()->setRowSpacing(0);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(7);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
    plot_->setCsvProvider([this] { return lossCsv(); });

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(plot_);
    split->addWidget(log_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(box);
    layout->addWidget(split, 1);

    if (map_) {
        auto summarize = [this] {
            const bool has = map_->rowCount() > 0;
            useMap_->setEnabled(has);
            if (!has && useMap_->isChecked()) useTarget_->setChecked(true);
            const plan::BudgetSummary b = map_->summary();
            mapSummary_->setText(has ? tr("%1 linears, average %2 bpw").arg(b.layers).arg(b.average_bpw, 0, 'f', 3)
                                     : tr("(no map: open a model or load a map)"));
        };
        connect(map_, &BpwMapModel::mapChanged, this, summarize);
        connect(map_, &QAbstractItemModel::modelReset, this, summarize);
        summarize();
    } else {
        useMap_->setEnabled(false);
    }

    connect(progress_, &JobProgressPanel::progressed, this,
            [this](const JobProgress& jp) { onProgress(jp.stage, jp.item); });
    connect(progress_, &JobProgressPanel::finished, this, [this] {
        const auto r = std::exchange(pending_, nullptr);
        lastOutput_ = std::exchange(pendingOutput_, QString());
        if (r) {
            result_->setText(tr("Wrote %1: %2 linears, average %3 bpw, %4 s%5%6")
                                 .arg(lastOutput_)
                                 .arg(r->layers.size())
                                 .arg(r->average_bpw, 0, 'f', 3)
                                 .arg(r->seconds, 0, 'f', 1)
                                 .arg(r->hessian_layers_from_cache ? tr(", %1 blocks' Hessians from the cache").arg(r->hessian_layers_from_cache) : QString())
                                 .arg(r->resumed_linears ? tr(", %1 linears resumed").arg(r->resumed_linears) : QString()));
            appendLog(tr("calibration: %1").arg(QString::fromStdString(r->calibration)));
        }
        appendLog(tr("finished: %1").arg(lastOutput_));
        blockBar_->setValue(blockBar_->maximum());
        updateEnabled();
        emit runFinished(lastOutput_);
    });
    connect(progress_, &JobProgressPanel::cancelled, this, [this] {
        pending_.reset();
        const QString out = std::exchange(pendingOutput_, QString());
        result_->setText(tr("Cancelled: nothing was written to %1.").arg(out));
        appendLog(tr("cancelled; nothing was written to %1 (finished linears are kept in %1.glq-resume: tick "
                     "\"Resume a cancelled run\" to continue)").arg(out));
        updateEnabled();
        emit runCancelled();
    });
    connect(progress_, &JobProgressPanel::failed, this, [this](const QString& where, const QString& problem) {
        pending_.reset();
        pendingOutput_.clear();
        result_->setText(tr("Failed: %1").arg(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem));
        appendLog(tr("error: %1").arg(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem));
        updateEnabled();
        emit runFailed(where, problem);
    });
    connect(output_, &QLineEdit::textChanged, this, &QuantizeView::updateEnabled);
    updateEnabled();
    replot();
}

void QuantizeView::setModel(const QString& dir, const QStringList& linears) {
    modelDir_ = dir;
    model_->setText(dir.isEmpty() ? tr("No model open.") : dir);
    linearsPerBlock_.clear();
    for (const QString& l : linears) ++linearsPerBlock_[block_of(l)];
    if (output_->text().isEmpty() && !dir.isEmpty()) {
        const QFileInfo info(dir);
        output_->setText(info.absoluteDir().filePath(info.fileName() + QStringLiteral("-glq")));
    }
    updateEnabled();
}

void QuantizeView::setOutputDir(const QString& dir) { output_->setText(dir); }
QString QuantizeView::outputDir() const { return output_->text().trimmed(); }
void QuantizeView::setUseBpwMap(bool use) { (use ? useMap_ : useTarget_)->setChecked(true); }
void QuantizeView::setTargetBpw(double bpw) { target_->setValue(bpw); }
void QuantizeView::setReplaceExisting(bool replace) { replace_->setChecked(replace); }
void QuantizeView::setResume(bool resume) { resume_->setChecked(resume); }

void QuantizeView::setDevice(const QString& device) {
    const int i = device_->findText(device);
    if (i >= 0) device_->setCurrentIndex(i);
}

void QuantizeView::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("quantize/useMap"), useMap_->isChecked());
    s.setValue(QStringLiteral("quantize/target"), target_->value());
    s.setValue(QStringLiteral("quantize/min"), minBpw_->value());
    s.setValue(QStringLiteral("quantize/max"), maxBpw_->value());
    s.setValue(QStringLiteral("quantize/propagate"), propagate_->isChecked());
    s.setValue(QStringLiteral("quantize/tunePasses"), tune_->currentData().toInt());
    s.setValue(QStringLiteral("quantize/layerStreaming"), streaming_->currentData().toString());
}

void QuantizeView::loadSettings(QSettings& s) {
    if (s.value(QStringLiteral("quantize/useMap"), false).toBool() && useMap_->isEnabled()) useMap_->setChecked(true);
    target_->setValue(s.value(QStringLiteral("quantize/target"), target_->value()).toDouble());
    minBpw_->setValue(s.value(QStringLiteral("quantize/min"), minBpw_->value()).toInt());
    maxBpw_->setValue(s.value(QStringLiteral("quantize/max"), maxBpw_->value()).toInt());
    propagate_->setChecked(s.value(QStringLiteral("quantize/propagate"), true).toBool());
    JobProgressPanel::selectData(tune_, s.value(QStringLiteral("quantize/tunePasses"), -1).toInt());
    JobProgressPanel::selectData(streaming_, s.value(QStringLiteral("quantize/layerStreaming"), QStringLiteral("auto")).toString());
}

glq::session::JobOptions QuantizeView::jobOptions() const {
    glq::session::JobOptions o = calibration_ ? calibration_() : glq::session::JobOptions{};
    o.model_dir = modelDir_.toStdString();
    o.device = device_->currentText().toStdString();
    o.output_dir = outputDir().toStdString();
    o.replace_existing = replace_->isChecked();
    o.resume = resume_->isChecked();
    o.propagate = propagate_->isChecked();
    o.tune_iters = tune_->currentData().toInt();
    o.layer_streaming = streaming_->currentData().toString().toStdString();
    o.bpw_map.clear();
    if (useMap_->isChecked() && map_) {
        // The job quantizes the linears of the transformer blocks; an untied
        // lm_head is listed in the map's table but stays as it is.
        for (int row = 0; row < map_->rowCount(); ++row) {
            const std::string& name = map_->layers()[static_cast<size_t>(row)].name;
            if (block_of(QString::fromStdString(name)) >= 0) o.bpw_map[name] = map_->bpwAt(row);
        }
    } else {
        o.target_bpw = target_->value();
        o.min_bpw = minBpw_->value();
        o.max_bpw = maxBpw_->value();
    }
    return o;
}

QString QuantizeView::logText() const { return log_->toPlainText(); }

void QuantizeView::appendLog(const QString& line) {
    log_->appendPlainText(QStringLiteral("%1  %2").arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss")), line));
}

void QuantizeView::fail(const QString& where, const QString& problem) {
    appendLog(tr("error: %1").arg(where.isEmpty() ? problem : where + QStringLiteral(": ") + problem));
    emit errorOccurred(where, problem);
    emit runFailed(where, problem);
}

void QuantizeView::updateEnabled() {
    const bool busy = progress_ && progress_->isTracking();
    run_->setEnabled(!busy && !modelDir_.isEmpty() && !outputDir().isEmpty());
    run_->setToolTip(modelDir_.isEmpty() ? tr("Open a model first (Model step)")
                     : outputDir().isEmpty() ? tr("Choose an output folder")
                                             : tr("Quantize %1 into %2").arg(QFileInfo(modelDir_).fileName(), outputDir()));
    const bool done = !busy && !lastOutput_.isEmpty() && QFileInfo::exists(lastOutput_ + QStringLiteral("/config.json"));
    compare_->setEnabled(done);
    export_->setEnabled(done);
}

bool QuantizeView::run() {
    if (modelDir_.isEmpty()) {
        fail(tr("Quantize"), tr("no model is open"));
        return false;
    }
    if (outputDir().isEmpty()) {
        fail(tr("Output"), tr("no output folder chosen"));
        return false;
    }
    if (useMap_->isChecked() && (!map_ || map_->rowCount() == 0)) {
        fail(tr("Rates"), tr("the bpw map is empty: open a model or load a map, or choose a target bpw"));
        return false;
    }
    if (minBpw_->value() > maxBpw_->value()) {
        fail(tr("Rates"), tr("min bpw %1 is above max bpw %2").arg(minBpw_->value()).arg(maxBpw_->value()));
        return false;
    }
    if (worker_->isRunning()) {
        fail(modelDir_, tr("another job is running (%1); wait for it or cancel it first").arg(worker_->title()));
        return false;
    }
    const glq::session::JobOptions options = jobOptions();
    auto result = std::make_shared<glq::session::QuantizeResult>();
    QPointer<QuantizeView> self(this);
    const bool started = worker_->start(
        tr("Quantizing %1").arg(QFileInfo(modelDir_).fileName()),
        [options, result, self](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
            glq::session::JobCallbacks cb;
            cb.progress = report;
            cb.cancel = &cancel;
            // Called on the job's thread: hand copies to the GUI thread. They
            // are queued before the worker's end signal, so they arrive first.
            cb.on_layer = [self](const glq::session::LayerReport& r) {
                QMetaObject::invokeMethod(self.data(), [self, r] { if (self) self->addLayer(r); }, Qt::QueuedConnection);
            };
            cb.log = [self](const std::string& line) {
                const QString text = QString::fromStdString(line);
                QMetaObject::invokeMethod(self.data(), [self, text] { if (self) self->appendLog(text); }, Qt::QueuedConnection);
            };
            *result = glq::session::quantize(options, cb);
        });
    if (!started) return false;
    pending_ = result;
    pendingOutput_ = outputDir();
    lastOutput_.clear();
    layers_.clear();
    for (auto& [b, g] : graphs_) plot_->plot()->removeGraph(g);
    graphs_.clear();
    replot();
    result_->clear();
    blockBar_->setRange(0, 1);
    blockBar_->setValue(0);
    blockBar_->setFormat(QString());
    blockLabel_->setText(tr("Block:"));
    progress_->track();
    appendLog(tr("quantizing %1 into %2 on %3 (%4)")
                  .arg(modelDir_, pendingOutput_, QString::fromStdString(options.device),
                       options.bpw_map.empty() ? tr("target %1 bpw").arg(options.target_bpw)
                                               : tr("bpw map of %1 linears").arg(options.bpw_map.size())));
    updateEnabled();
    emit runStarted();
    return true;
}

void QuantizeView::onProgress(const QString& stage, const QString& item) {
    if (stage != QLatin1String("quantize")) return;
    const int block = block_of(item);
    if (block < 0) return;
    int done = 0;
    for (const auto& l : layers_) done += block_of(QString::fromStdString(l.name)) == block;
    const auto it = linearsPerBlock_.find(block);
    const int total = it != linearsPerBlock_.end() ? it->second : 7;  // q, k, v, o, gate, up, down
    blockLabel_->setText(tr("Block %1:").arg(block));
    blockBar_->setRange(0, total);
    blockBar_->setValue(std::min(done, total));
    blockBar_->setFormat(tr("%1 / %2 linears — %3").arg(std::min(done, total)).arg(total).arg(item.section(QLatin1Char('.'), -2)));
}

void QuantizeView::addLayer(const glq::session::LayerReport& r) {
    layers_.push_back(r);
    const QString name = QString::fromStdString(r.name);
    appendLog(QStringLiteral("%1  %2 bpw  proxy loss %3  relative %4  %5 s%6")
                  .arg(name, -32)
                  .arg(r.bpw)
                  .arg(r.proxy_loss, 0, 'e', 3)
                  .arg(r.relative_error, 0, 'e', 3)
                  .arg(r.seconds, 5, 'f', 2)
                  .arg(r.resumed ? tr("  (resumed)") : QString()));
    QCPGraph*& g = graphs_[r.bpw];
    if (!g) {
        g = plot_->plot()->addGraph();
        g->setName(tr("%1 bpw").arg(r.bpw));
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, bpw_color(r.bpw), 6));
        g->setPen(QPen(bpw_color(r.bpw)));
    }
    // A zero loss (an all-zero padding row) has no place on a log axis.
    if (r.proxy_loss > 0) g->addData(static_cast<double>(layers_.size() - 1), r.proxy_loss);
    replot();
    const int block = block_of(name);
    if (block >= 0) onProgress(QStringLiteral("quantize"), name);
    emit layerFinished(name, r.bpw, r.proxy_loss);
}

void QuantizeView::replot() {
    QCustomPlot* p = plot_->plot();
    // Rates in ascending order, whichever finished first.
    p->legend->clearItems();
    for (const auto& [bpw, g] : graphs_) g->addToLegend();
    p->legend->setVisible(!graphs_.empty());
    p->xAxis->setRange(-0.5, std::max<double>(layers_.size(), 8) - 0.5);
    double lo = INFINITY, hi = 0;
    for (const auto& l : layers_)
        if (l.proxy_loss > 0) lo = std::min(lo, l.proxy_loss), hi = std::max(hi, l.proxy_loss);
    if (hi > 0) p->yAxis->setRange(lo / 2, hi * 2);
    else p->yAxis->setRange(1e-6, 1);
    p->replot(QCustomPlot::rpQueuedReplot);
}

QString QuantizeView::lossCsv() const {
    QString csv = QStringLiteral("index,layer,bpw,proxy_loss,relative_error,seconds,resumed\n");
    for (size_t i = 0; i < layers_.size(); ++i) {
        const auto& l = layers_[i];
        csv += QStringLiteral("%1,%2,%3,%4,%5,%6,%7\n")
                   .arg(i)
                   .arg(QString::fromStdString(l.name))
                   .arg(l.bpw)
                   .arg(l.proxy_loss, 0, 'g', 10)
                   .arg(l.relative_error, 0, 'g', 10)
                   .arg(l.seconds, 0, 'f', 3)
                   .arg(l.resumed ? 1 : 0);
    }
    return csv;
}

} // namespace glq::ui
