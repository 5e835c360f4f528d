#pragma once
// The Quantize step: rates (the bpw map of the bpw map step, or a target
// bpw: an integer quantizes every linear at it, a fraction lets the
// allocator choose), device and layer streaming, output folder, replace,
// resume, propagation and tuning passes (every option `glqw quantize` has;
// the calibration and cache ones are the Calibration step's); Run quantizes on the window's
// Worker with overall progress (linears done / total, stage, ETA), the
// current transformer block's progress, a live log, and a plot of every
// linear's proxy loss filling in as the linears finish (PNG/SVG/PDF/CSV).
// Cancel leaves no output folder (the job writes the checkpoint atomically;
// finished linears stay in "<output>.glq-resume" for Resume). A finished run
// offers Compare (compareRequested(original, quantized)) and Export.
//
// The calibration settings come from the Calibration step through a
// provider, so both steps calibrate the same way and share cached Hessians.

#include <QStringList>
#include <QWidget>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/session/job_session.h"

class QCheckBox;
class QComboBox;
class QCPGraph;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QRadioButton;
class QSettings;
class QSpinBox;

namespace glq::ui {

class BpwMapModel;
class JobProgressPanel;
class PlotPanel;
class Worker;

class QuantizeView : public QWidget {
    Q_OBJECT
public:
    // `map` (may be null) is the bpw map step's model.
    QuantizeView(BpwMapModel* map, Worker* worker, QWidget* parent = nullptr);

    // The source model and its quantizable linears (for per-block progress).
    void setModel(const QString& dir, const QStringList& linears = {});
    QString modelDir() const { return modelDir_; }
    // Model folder, calibration text/windows/seed; device, rates and output are this view's.
    void setCalibrationProvider(std::function<glq::session::JobOptions()> provider) { calibration_ = std::move(provider); }

    void setOutputDir(const QString& dir);
    QString outputDir() const;
    void setUseBpwMap(bool use);
    void setTargetBpw(double bpw);
    void setDevice(const QString& device);
    void setReplaceExisting(bool replace);
    void setResume(bool resume);
    void saveSettings(QSettings& s) const;
    void loadSettings(QSettings& s);

    // The options Run would use now.
    glq::session::JobOptions jobOptions() const;

    PlotPanel* lossPlot() const { return plot_; }
    JobProgressPanel* progressPanel() const { return progress_; }
    QProgressBar* blockProgress() const { return blockBar_; }
    const std::vector<glq::session::LayerReport>& layers() const { return layers_; }
    QString logText() const;
    QPushButton* compareButton() const { return compare_; }
    QPushButton* exportButton() const { return export_; }
    QString lastOutput() const { return lastOutput_; }
    QString lossCsv() const;

public slots:
    // Starts the job; false (after runFailed()) for unusable settings or a busy worker.
    bool run();

signals:
    void runStarted();
    void layerFinished(const QString& name, int bpw, double proxyLoss);
    void runFinished(const QString& outputDir);
    void runCancelled();
    // Any failure: settings refused before the start, or the job's error.
    void runFailed(const QString& where, const QString& problem);
    // Settings refused before the start only (the job's own errors reach the
    // window through the Worker's failed()).
    void errorOccurred(const QString& where, const QString& problem);
    void compareRequested(const QString& originalDir, const QString& quantizedDir);
    void exportRequested(const QString& quantizedDir);

private:
    void addLayer(const glq::session::LayerReport& r);
    void appendLog(const QString& line);
    void onProgress(const QString& stage, const QString& item);
    void updateEnabled();
    void replot();
    void fail(const QString& where, const QString& problem);

    BpwMapModel* map_;
    Worker* worker_;
    std::function<glq::session::JobOptions()> calibration_;
    QLabel* model_;
    QRadioButton* useMap_;
    QRadioButton* useTarget_;
    QLabel* mapSummary_;
    QDoubleSpinBox* target_;
    QSpinBox* minBpw_;
    QSpinBox* maxBpw_;
    QComboBox* device_;
    QLineEdit* output_;
    QCheckBox* replace_;
    QCheckBox* resume_;
    QCheckBox* propagate_;
    QComboBox* tune_;  // LDLQ tuning passes: item 0 = auto, then 0..10 (item data = passes, -1 = auto)
    QComboBox* streaming_;  // layer streaming: auto / on / off (item data = the session's word)
    QPushButton* run_;
    JobProgressPanel* progress_ = nullptr;
    QLabel* blockLabel_;
    QProgressBar* blockBar_;
    QPlainTextEdit* log_;
    PlotPanel* plot_;
    std::map<int, QCPGraph*> graphs_;  // one per bpw
    QLabel* result_;
    QPushButton* compare_;
    QPushButton* export_;

    QString modelDir_;
    std::map<int, int> linearsPerBlock_;  // transformer block -> quantizable linears
    std::vector<glq::session::LayerReport> layers_;
    std::shared_ptr<glq::session::QuantizeResult> pending_;
    QString pendingOutput_;
    QString lastOutput_;
};

} // namespace glq::ui
