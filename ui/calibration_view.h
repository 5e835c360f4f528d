#pragma once
// The Calibration & sensitivity step: the calibration settings (text files,
// nsamples, seqlen, seed or in order, the Hessian cache), the profile's
// device, layer streaming, rates and tuning passes (every option of `glqw
// profile`), Run (calibrate + profile every linear at
// each chosen rate on the window's Worker, with progress, ETA and cancel),
// the sensitivity table's source, and the plots. A finished profile is saved
// as a glq-sensitivity table (the same file `glqw profile` writes) and
// handed on through profileFinished(): the main window loads it like any
// table, so the plots and the bpw map fill in the same way either way.

#include <QWidget>
#include <vector>

#include "core/session/job_session.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QSettings;

namespace glq::ui {

class BpwMapModel;
class JobProgressPanel;
class SensitivityPlots;
class Worker;

// The calibration and cache options of every job (the profile here, the
// quantization of the Quantize step): glqw's --calib, --nsamples, --seqlen,
// --seed, --contiguous, --cache-dir and --no-cache.
struct CalibrationSettings {
    QString text_path;  // empty: the bundled Brown corpus; several files separated by ';'
    int nsamples = 128;
    int seqlen = 512;
    int seed = 0;
    bool contiguous = false;  // the first nsamples x seqlen tokens in order, not seeded windows
    bool use_cache = true;    // read and write cached Hessians
    QString cache_dir;        // empty: the default (~/.cache/glq-workbench/hessians)
};

class CalibrationView : public QWidget {
    Q_OBJECT
public:
    CalibrationView(BpwMapModel* model, Worker* worker, QWidget* parent = nullptr);

    SensitivityPlots* plots() const { return plots_; }
    JobProgressPanel* progressPanel() const { return progress_; }
    CalibrationSettings settings() const;
    void setSettings(const CalibrationSettings& s);
    void saveSettings(QSettings& s) const;
    void loadSettings(QSettings& s);
    // The device the job runs on ("cpu", "cuda:0"); listed only when usable.
    void setDevice(const QString& device);
    QString device() const;
    void setSensitivitySource(const QString& text);

    // The model folder Run profiles (empty: Run stays disabled).
    void setModelDir(const QString& dir);
    QString modelDir() const { return modelDir_; }
    // Where a finished profile is written; default: the app's data folder,
    // sensitivity/<model folder name>.json.
    void setTableDir(const QString& dir) { tableDir_ = dir; }
    // The rates profiled, e.g. "2,3,4"; Run refuses a list with anything
    // outside 2..8.
    void setRates(const QString& rates);
    std::vector<int> rates() const;

    // The job options of these settings (model, text, windows, cache; device,
    // layer streaming and tuning passes of the profile). The Quantize step
    // takes the calibration and cache ones and sets the rest itself.
    glq::session::JobOptions jobOptions() const;

public slots:
    // Starts the profile on the worker; returns false (after failed()) when
    // the settings are unusable or another job is running.
    bool run();

signals:
    void loadSensitivityRequested();
    void profileStarted();
    // The table was written to `path`.
    void profileFinished(const QString& path);
    void profileCancelled();
    // Any failure: settings refused before the start, or the job's error.
    void profileFailed(const QString& where, const QString& problem);
    // Settings refused before the start only (the job's own errors reach the
    // window through the Worker's failed()).
    void errorOccurred(const QString& where, const QString& problem);

private:
    void updateRunEnabled();
    void fail(const QString& where, const QString& problem);

    Worker* worker_;
    SensitivityPlots* plots_;
    QLineEdit* text_;
    QSpinBox* nsamples_;
    QSpinBox* seqlen_;
    QSpinBox* seed_;
    QCheckBox* contiguous_;
    QCheckBox* useCache_;
    QLineEdit* cacheDir_;
    QComboBox* device_;
    QComboBox* streaming_;  // layer streaming of the profile: auto / on / off
    QComboBox* tune_;       // LDLQ tuning passes of the profile (item data = passes, -1 = auto)
    QLineEdit* rates_;
    QLabel* source_;
    QPushButton* run_;
    JobProgressPanel* progress_ = nullptr;
    QString modelDir_;
    QString tableDir_;
    QString pendingTable_;
};

} // namespace glq::ui
