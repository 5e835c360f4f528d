#pragma once
// The Calibration & sensitivity step: the calibration settings (text,
// nsamples, seqlen, seed, device), the sensitivity table's source, and the
// plots. Running calibration needs the engine's torch-free job facade
// (core/quant), which this build does not have yet: the Run button says so
// and stays disabled; a sensitivity table from `glqw` (or any file in the
// format of sensitivity_table.h) can be loaded and is drawn in full.

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QSettings;

namespace glq::ui {

class BpwMapModel;
class SensitivityPlots;

struct CalibrationSettings {
    QString text_path;
    int nsamples = 128;
    int seqlen = 2048;
    int seed = 0;
};

class CalibrationView : public QWidget {
    Q_OBJECT
public:
    CalibrationView(BpwMapModel* model, QWidget* parent = nullptr);

    SensitivityPlots* plots() const { return plots_; }
    CalibrationSettings settings() const;
    void setSettings(const CalibrationSettings& s);
    void saveSettings(QSettings& s) const;
    void loadSettings(QSettings& s);
    void setDevice(const QString& device);
    void setSensitivitySource(const QString& text);

signals:
    void loadSensitivityRequested();

private:
    SensitivityPlots* plots_;
    QLineEdit* text_;
    QSpinBox* nsamples_;
    QSpinBox* seqlen_;
    QSpinBox* seed_;
    QLabel* device_;
    QLabel* source_;
    QPushButton* run_;
};

} // namespace glq::ui
