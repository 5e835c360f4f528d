#include "ui/job_progress_panel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include "core/session/job_session.h"
#include "ui/model_summary.h"
#include "ui/worker.h"

namespace glq::ui {

JobProgressPanel::JobProgressPanel(Worker* worker, QWidget* parent) : QWidget(parent), worker_(worker) {
    bar_ = new QProgressBar;
    bar_->setRange(0, 1000);
    bar_->setValue(0);
    bar_->setTextVisible(true);
    bar_->setFormat(QString());
    stage_ = new QLabel(tr("idle"));
    stage_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    stage_->setMinimumWidth(120);
    eta_ = new QLabel;
    cancel_ = new QPushButton(tr("Cancel"));
    cancel_->setEnabled(false);
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(bar_, 2);
    layout->addWidget(stage_, 3);
    layout->addWidget(eta_);
    layout->addWidget(cancel_);

    connect(cancel_, &QPushButton::clicked, this, [this] {
        if (!tracking_) return;
        cancel_->setEnabled(false);
        stage_->setText(tr("cancelling…"));
        worker_->cancel();
    });
    connect(worker_, &Worker::progress, this, [this](const JobProgress& p) {
        if (tracking_) onProgress(p);
    });
    connect(worker_, &Worker::finished, this, [this] {
        if (!tracking_) return;
        end(tr("done"));
        bar_->setValue(1000);
        emit finished();
    });
    connect(worker_, &Worker::cancelled, this, [this] {
        if (!tracking_) return;
        end(tr("cancelled"));
        emit cancelled();
    });
    connect(worker_, &Worker::failed, this, [this](const QString& where, const QString& problem) {
        if (!tracking_) return;
        end(tr("failed"));
        emit failed(where, problem);
    });
}

void JobProgressPanel::track() {
    tracking_ = true;
    bar_->setRange(0, 0);  // busy until the first report with a total
    bar_->setFormat(QString());
    stage_->setText(tr("starting…"));
    eta_->clear();
    cancel_->setEnabled(true);
}

QString JobProgressPanel::statusText() const { return stage_->text(); }

void JobProgressPanel::onProgress(const JobProgress& p) {
    const int pm = p.permille();
    if (pm >= 0) {
        bar_->setRange(0, 1000);
        bar_->setValue(pm);
        // "106.8 MiB / 1.2 GiB", "52.4 M / 134.5 M weights": nine-digit numbers are not read at a glance.
        if (p.unit == QLatin1String("bytes"))
            bar_->setFormat(QStringLiteral("%1 / %2").arg(format_bytes(quint64(p.done)), format_bytes(quint64(p.total))));
        else
            bar_->setFormat(QStringLiteral("%1 / %2 %3").arg(format_count(p.done), format_count(p.total), p.unit));
    } else {
        bar_->setRange(0, 0);
    }
    stage_->setText(p.item.isEmpty() ? p.stage : QStringLiteral("%1: %2").arg(p.stage, p.item));
    const QString eta = format_eta(p.eta_s);
    eta_->setText(eta.isEmpty() ? tr("%1 s").arg(p.elapsed_s, 0, 'f', 0) : eta);
    emit progressed(p);
}

void JobProgressPanel::end(const QString& text) {
    tracking_ = false;
    cancel_->setEnabled(false);
    bar_->setRange(0, 1000);
    if (bar_->value() < 0) bar_->setValue(0);
    stage_->setText(text);
    eta_->clear();
}

QStringList JobProgressPanel::computeDevices() {
    // Asking LibTorch initialises the CUDA runtime: once per process is enough.
    static const int gpus = glq::session::cuda_device_count();
    QStringList d{QStringLiteral("cpu")};
    for (int i = 0; i < gpus; ++i) d << QStringLiteral("cuda:%1").arg(i);
    return d;
}

void JobProgressPanel::fillDeviceBox(QComboBox* box, const QString& preferred) {
    const QString keep = preferred.isEmpty() ? box->currentText() : preferred;
    box->clear();
    box->addItems(computeDevices());
    const int i = box->findText(keep);
    if (i >= 0) box->setCurrentIndex(i);
}

void JobProgressPanel::fillStreamingBox(QComboBox* box) {
    box->clear();
    box->addItem(tr("auto"), QStringLiteral("auto"));
    box->addItem(tr("on"), QStringLiteral("on"));
    box->addItem(tr("off"), QStringLiteral("off"));
    box->setToolTip(tr("On CUDA: keep the weights in host memory and bring one decoder layer at a time to the "
                       "GPU (for models larger than its memory; about 4 bytes of host memory per parameter). "
                       "auto: only when the weights take more than half of the GPU's free memory"));
}

void JobProgressPanel::fillTuneBox(QComboBox* box) {
    box->clear();
    box->addItem(tr("auto (one pass at 2–3 bpw)"), -1);
    for (int passes = 0; passes <= 10; ++passes) box->addItem(QString::number(passes), passes);  // glqw's 0..10
    box->setToolTip(tr("Refinement passes of LDLQ after its sweep: each revisits every block and keeps new codes "
                       "only where they lower the Hessian-weighted error. A pass costs about one more sweep; "
                       "it pays most at low rates."));
}

void JobProgressPanel::selectData(QComboBox* box, const QVariant& data) {
    const int i = box->findData(data);
    box->setCurrentIndex(i >= 0 ? i : 0);
}

} // namespace glq::ui
