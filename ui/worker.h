#pragma once
// Worker: runs one long job (model loading, calibration, quantization...) on
// a pool thread and turns core's plain glq::ProgressFn / glq::CancelToken into
// Qt signals delivered on the GUI thread. Every long job in the workbench
// goes through this one adapter, so progress, ETA, cancel and error handling
// behave the same everywhere and the GUI thread never blocks.
//
//   auto* w = new Worker(this);
//   connect(w, &Worker::progress, bar, ...);
//   connect(w, &Worker::finished, this, [=] { use(result); });
//   w->start("Loading model", [=](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
//       *result = load(dir, report, cancel);   // throws glq::Error / glq::Cancelled
//   });
//
// Exactly one of finished(), cancelled() or failed() follows each start().

#include <QElapsedTimer>
#include <QFutureWatcher>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <functional>

#include "core/common/progress.h"

namespace glq::ui {

// glq::Progress in Qt types, plus the timing the GUI shows.
struct JobProgress {
    QString stage;
    QString item;
    QString unit;
    qint64 done = 0;
    qint64 total = 0;          // 0 = unknown
    double elapsed_s = 0.0;
    double eta_s = -1.0;       // < 0 = unknown (no total yet, or nothing done)
    // 0..1000 for a QProgressBar; -1 when the total is unknown.
    int permille() const;
};

// "1:05 left", "12 s left", "" when unknown.
QString format_eta(double eta_s);

class Worker : public QObject {
    Q_OBJECT
public:
    using Job = std::function<void(const glq::ProgressFn& report, const glq::CancelToken& cancel)>;

    explicit Worker(QObject* parent = nullptr);
    ~Worker() override;  // cancels a running job and waits for it

    // Starts `job` on a pool thread. Returns false (and does nothing) if a job
    // is already running: one Worker runs one job at a time.
    bool start(const QString& title, Job job);
    bool isRunning() const;
    QString title() const { return title_; }
    // Asks the job to stop at its next CancelToken check; cancelled() follows.
    void cancel();
    // Blocks until the running job ends (for shutdown and tests).
    void wait();

    // The shortest gap between two progress() signals: a job may report a
    // million times a second, the GUI needs ~20 updates a second.
    void setProgressInterval(int ms) { progressIntervalMs_ = ms; }

signals:
    void started(const QString& title);
    void progress(const glq::ui::JobProgress& progress);
    void finished();
    void cancelled();
    // `where` names the file or object, `problem` says what went wrong
    // (glq::Error's two parts; other exceptions come with an empty `where`).
    void failed(const QString& where, const QString& problem);

private:
    enum class Outcome { Finished, Cancelled, Failed };
    struct Result {
        Outcome outcome = Outcome::Finished;
        QString where;
        QString problem;
    };
    void onJobEnded();

    QString title_;
    QFutureWatcher<Result>* watcher_ = nullptr;
    glq::CancelToken cancel_;
    int progressIntervalMs_ = 50;
};

} // namespace glq::ui

Q_DECLARE_METATYPE(glq::ui::JobProgress)
