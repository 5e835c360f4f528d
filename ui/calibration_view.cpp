#include "ui/calibration_view.h"

#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "ui/sensitivity_plots.h"

namespace glq::ui {

CalibrationView::CalibrationView(BpwMapModel* model, QWidget* parent) : QWidget(parent) {
    auto* box = new QGroupBox(tr("Calibration"));
    auto* form = new QFormLayout(box);
    text_ = new QLineEdit;
    text_->setPlaceholderText(tr("a plain-text file (e.g. Brown corpus)"));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Calibration text"), text_->text(), tr("Text (*.txt);;All files (*)"));
        if (!f.isEmpty()) text_->setText(f);
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
    device_ = new QLabel(QStringLiteral("cpu"));
    form->addRow(tr("Text:"), textRow);
    form->addRow(tr("nsamples:"), nsamples_);
    form->addRow(tr("seqlen:"), seqlen_);
    form->addRow(tr("Seed:"), seed_);
    form->addRow(tr("Device:"), device_);
    run_ = new QPushButton(tr("Run calibration && profiling"));
    run_->setEnabled(false);
    run_->setToolTip(tr("Needs the calibration engine's GUI facade (core/quant), not in this build yet. "
                        "Meanwhile, `glqw profile --out FILE` writes a sensitivity table this view loads."));
    auto* load = new QPushButton(tr("Load sensitivity table…"));
    connect(load, &QPushButton::clicked, this, &CalibrationView::loadSensitivityRequested);
    source_ = new QLabel(tr("No sensitivity table loaded."));
    source_->setWordWrap(true);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(run_);
    buttons->addWidget(load);
    buttons->addWidget(source_, 1);
    form->addRow(buttons);
    setSettings({});

    plots_ = new SensitivityPlots(model);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(box);
    layout->addWidget(plots_, 1);
}

CalibrationSettings CalibrationView::settings() const {
    return {text_->text(), nsamples_->value(), seqlen_->value(), seed_->value()};
}

void CalibrationView::setSettings(const CalibrationSettings& s) {
    text_->setText(s.text_path);
    nsamples_->setValue(s.nsamples);
    seqlen_->setValue(s.seqlen);
    seed_->setValue(s.seed);
}

void CalibrationView::saveSettings(QSettings& s) const {
    const CalibrationSettings c = settings();
    s.setValue(QStringLiteral("calibration/text"), c.text_path);
    s.setValue(QStringLiteral("calibration/nsamples"), c.nsamples);
    s.setValue(QStringLiteral("calibration/seqlen"), c.seqlen);
    s.setValue(QStringLiteral("calibration/seed"), c.seed);
}

void CalibrationView::loadSettings(QSettings& s) {
    const CalibrationSettings d;
    setSettings({s.value(QStringLiteral("calibration/text"), d.text_path).toString(),
                 s.value(QStringLiteral("calibration/nsamples"), d.nsamples).toInt(),
                 s.value(QStringLiteral("calibration/seqlen"), d.seqlen).toInt(),
                 s.value(QStringLiteral("calibration/seed"), d.seed).toInt()});
}

void CalibrationView::setDevice(const QString& device) { device_->setText(device); }

void CalibrationView::setSensitivitySource(const QString& text) { source_->setText(text); }

} // namespace glq::ui
