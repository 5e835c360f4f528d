#pragma once
// The progress read-out every pipeline view (calibration, quantize, export)
// shows under its settings: a bar, the stage and item being worked on, the
// elapsed time and ETA, and a Cancel button. All views share the window's one
// Worker (one job at a time on a shared machine); a panel reacts only to the
// job its view started (track()), so another view's job never moves its bar.
//
// Also the job options the views share: the device choice (the CPU always,
// CUDA devices only when this build and machine can run on them, asked once
// through the torch-free session facade), layer streaming and LDLQ's tuning
// passes, filled the same way wherever a job is started (glqw's --device,
// --stream-layers and --tune-iters).

#include <QString>
#include <QStringList>
#include <QVariant>
#include <QWidget>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;

namespace glq::ui {

class Worker;
struct JobProgress;

class JobProgressPanel : public QWidget {
    Q_OBJECT
public:
    explicit JobProgressPanel(Worker* worker, QWidget* parent = nullptr);

    // Call right after worker->start() for this panel's job.
    void track();
    bool isTracking() const { return tracking_; }
    QProgressBar* bar() const { return bar_; }
    QString statusText() const;

    // "cpu", then "cuda:0", "cuda:1"... when usable.
    static QStringList computeDevices();
    // Fills `box` with computeDevices(), keeping `preferred` selected when listed.
    static void fillDeviceBox(QComboBox* box, const QString& preferred = QString());
    // auto / on / off, item data the session's word (JobOptions::layer_streaming).
    static void fillStreamingBox(QComboBox* box);
    // auto, then 0..10 passes, item data the passes (-1 = auto, JobOptions::tune_iters).
    static void fillTuneBox(QComboBox* box);
    // Selects the item whose data is `data`, else the first (auto).
    static void selectData(QComboBox* box, const QVariant& data);

signals:
    void progressed(const glq::ui::JobProgress& progress);
    void finished();
    void cancelled();
    void failed(const QString& where, const QString& problem);

private:
    void onProgress(const JobProgress& p);
    void end(const QString& text);

    Worker* worker_;
    QProgressBar* bar_;
    QLabel* stage_;
    QLabel* eta_;
    QPushButton* cancel_;
    bool tracking_ = false;
};

} // namespace glq::ui
