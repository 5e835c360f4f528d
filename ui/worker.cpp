#include "ui/worker.h"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>

namespace glq::ui {

int JobProgress::permille() const {
    if (total <= 0) return -1;
    const double f = static_cast<double>(done) / static_cast<double>(total);
    return static_cast<int>(std::lround(std::clamp(f, 0.0, 1.0) * 1000.0));
}

QString format_eta(double eta_s) {
    if (eta_s < 0 || !std::isfinite(eta_s)) return {};
    const qint64 s = static_cast<qint64>(std::llround(eta_s));
    if (s < 60) return QStringLiteral("%1 s left").arg(s);
    if (s < 3600) return QStringLiteral("%1:%2 left").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2:%3 left")
        .arg(s / 3600)
        .arg((s / 60) % 60, 2, 10, QLatin1Char('0'))
        .arg(s % 60, 2, 10, QLatin1Char('0'));
}

Worker::Worker(QObject* parent) : QObject(parent) {
    qRegisterMetaType<glq::ui::JobProgress>();
}

Worker::~Worker() {
    if (isRunning()) {
        cancel();
        wait();
    }
}

bool Worker::isRunning() const { return watcher_ && !watcher_->isFinished(); }

void Worker::cancel() { cancel_.cancel(); }

void Worker::wait() {
    if (watcher_) watcher_->waitForFinished();
}

bool Worker::start(const QString& title, Job job) {
    if (isRunning()) return false;
    title_ = title;
    cancel_ = glq::CancelToken();  // a fresh token: an old cancel must not stop the new job
    if (watcher_) watcher_->deleteLater();
    watcher_ = new QFutureWatcher<Result>(this);
    connect(watcher_, &QFutureWatcher<Result>::finished, this, &Worker::onJobEnded);

    // The job thread reports through a queued call into this object; the
    // throttle keeps a chatty job from flooding the GUI's event queue. The
    // last report of a stage (done == total) always goes through.
    QPointer<Worker> self(this);
    const int interval = progressIntervalMs_;
    auto report = [self, interval, clock = std::make_shared<QElapsedTimer>(),
                   last = std::make_shared<qint64>(-1'000'000)](const glq::Progress& p) {
        if (!clock->isValid()) clock->start();
        const qint64 now = clock->elapsed();
        const bool stage_done = p.total > 0 && p.done >= p.total;
        if (!stage_done && now - *last < interval) return;
        *last = now;
        JobProgress jp;
        jp.stage = QString::fromStdString(p.stage);
        jp.item = QString::fromStdString(p.item);
        jp.unit = QString::fromStdString(p.unit);
        jp.done = p.done;
        jp.total = p.total;
        jp.elapsed_s = now / 1000.0;
        if (p.total > 0 && p.done > 0)
            jp.eta_s = jp.elapsed_s * static_cast<double>(p.total - p.done) / static_cast<double>(p.done);
        if (self) QMetaObject::invokeMethod(self.data(), [self, jp] { if (self) emit self->progress(jp); },
                                            Qt::QueuedConnection);
    };

    const glq::CancelToken token = cancel_;
    watcher_->setFuture(QtConcurrent::run([job = std::move(job), report, token]() -> Result {
        try {
            token.check();
            job(report, token);
            // A job that noticed the cancel and returned early still counts as cancelled.
            if (token.cancelled()) return {Outcome::Cancelled, {}, {}};
            return {Outcome::Finished, {}, {}};
        } catch (const glq::Cancelled&) {
            return {Outcome::Cancelled, {}, {}};
        } catch (const glq::Error& e) {
            return {Outcome::Failed, QString::fromStdString(e.where()), QString::fromStdString(e.problem())};
        } catch (const std::bad_alloc&) {
            return {Outcome::Failed, {}, QStringLiteral("out of memory")};
        } catch (const std::exception& e) {
            return {Outcome::Failed, {}, QString::fromUtf8(e.what())};
        } catch (...) {
            return {Outcome::Failed, {}, QStringLiteral("unknown error")};
        }
    }));
    emit started(title_);
    return true;
}

void Worker::onJobEnded() {
    // Queued progress reports posted before the job ended are delivered
    // first (same queue, same receiver), so the end signal comes last.
    const Result r = watcher_->result();
    switch (r.outcome) {
    case Outcome::Finished: emit finished(); break;
    case Outcome::Cancelled: emit cancelled(); break;
    case Outcome::Failed: emit failed(r.where, r.problem); break;
    }
}

} // namespace glq::ui
