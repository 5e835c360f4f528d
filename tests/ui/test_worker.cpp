// Worker: the one adapter from glq::ProgressFn / glq::CancelToken to Qt
// signals. Real jobs: a counting loop that honours the cancel token, a job
// that fails with glq::Error, and reading the stories260K model folder.

#include <QSignalSpy>
#include <QtTest>
#include <atomic>
#include <thread>

#include "core/common/error.h"
#include "ui/model_summary.h"
#include "ui/worker.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {
// Counts to `n`, reporting each step; sleeps a little so a cancel can land mid-way.
Worker::Job counting_job(int n, std::atomic<int>* reached, std::chrono::microseconds pause) {
    return [n, reached, pause](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
        for (int i = 1; i <= n; ++i) {
            cancel.check();
            std::this_thread::sleep_for(pause);
            reached->store(i);
            report({"count", "step " + std::to_string(i), i, n, "steps"});
        }
    };
}
} // namespace

class TestWorker : public QObject {
    Q_OBJECT
private slots:
    void reportsProgressThenFinished() {
        Worker w;
        w.setProgressInterval(0);
        QSignalSpy started(&w, &Worker::started);
        QSignalSpy progress(&w, &Worker::progress);
        QSignalSpy finished(&w, &Worker::finished);
        QSignalSpy cancelled(&w, &Worker::cancelled);
        QSignalSpy failed(&w, &Worker::failed);
        std::atomic<int> reached{0};
        QVERIFY(w.start(QStringLiteral("count"), counting_job(50, &reached, std::chrono::microseconds(200))));
        QCOMPARE(started.count(), 1);
        QVERIFY(finished.wait(10000));
        QCOMPARE(reached.load(), 50);
        QCOMPARE(cancelled.count(), 0);
        QCOMPARE(failed.count(), 0);
        QCOMPARE(progress.count(), 50);  // interval 0: every report arrives
        const auto last = progress.last().at(0).value<JobProgress>();
        QCOMPARE(last.done, 50);
        QCOMPARE(last.total, 50);
        QCOMPARE(last.permille(), 1000);
        QCOMPARE(last.stage, QStringLiteral("count"));
        QCOMPARE(last.item, QStringLiteral("step 50"));
        QCOMPARE(last.eta_s, 0.0);
        const auto first = progress.first().at(0).value<JobProgress>();
        QCOMPARE(first.done, 1);
        QVERIFY(first.eta_s >= 0);
        QVERIFY(!w.isRunning());
    }

    void throttlesChattyJobs() {
        Worker w;  // default interval: 50 ms
        QSignalSpy progress(&w, &Worker::progress);
        QSignalSpy finished(&w, &Worker::finished);
        std::atomic<int> reached{0};
        QVERIFY(w.start(QStringLiteral("chatty"), counting_job(100000, &reached, std::chrono::microseconds(0))));
        QVERIFY(finished.wait(20000));
        QCOMPARE(reached.load(), 100000);
        QVERIFY2(progress.count() < 1000, qPrintable(QString::number(progress.count())));
        // The final report of the stage always comes through.
        QCOMPARE(progress.last().at(0).value<JobProgress>().done, 100000);
    }

    void cancelStopsTheJob() {
        Worker w;
        QSignalSpy progress(&w, &Worker::progress);
        QSignalSpy finished(&w, &Worker::finished);
        QSignalSpy cancelled(&w, &Worker::cancelled);
        std::atomic<int> reached{0};
        QVERIFY(w.start(QStringLiteral("long"), counting_job(100000, &reached, std::chrono::milliseconds(1))));
        QVERIFY(progress.wait(5000));  // it is running
        QVERIFY(w.isRunning());
        QVERIFY(!w.start(QStringLiteral("second"), counting_job(1, &reached, {})));  // one job at a time
        w.cancel();
        QVERIFY(cancelled.wait(5000));
        QCOMPARE(finished.count(), 0);
        QVERIFY(reached.load() < 100000);
        // A fresh job after a cancel is not cancelled by the old request.
        std::atomic<int> again{0};
        QVERIFY(w.start(QStringLiteral("again"), counting_job(5, &again, {})));
        QVERIFY(finished.wait(5000));
        QCOMPARE(again.load(), 5);
        QCOMPARE(cancelled.count(), 1);
    }

    void failureCarriesWhereAndProblem() {
        Worker w;
        QSignalSpy failed(&w, &Worker::failed);
        QSignalSpy finished(&w, &Worker::finished);
        w.start(QStringLiteral("fail"), [](const glq::ProgressFn&, const glq::CancelToken&) {
            throw glq::Error("/models/x/config.json", "missing key 'hidden_size'");
        });
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.first().at(0).toString(), QStringLiteral("/models/x/config.json"));
        QCOMPARE(failed.first().at(1).toString(), QStringLiteral("missing key 'hidden_size'"));
        QCOMPARE(finished.count(), 0);

        w.start(QStringLiteral("std"), [](const glq::ProgressFn&, const glq::CancelToken&) { throw std::runtime_error("boom"); });
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.last().at(0).toString(), QString());
        QCOMPARE(failed.last().at(1).toString(), QStringLiteral("boom"));
    }

    void readsARealModelFolder() {
        if (!QFileInfo::exists(test::stories260k() + QStringLiteral("/config.json"))) QSKIP("stories260K not found");
        Worker w;
        w.setProgressInterval(0);
        QSignalSpy progress(&w, &Worker::progress);
        QSignalSpy finished(&w, &Worker::finished);
        auto result = std::make_shared<ModelSummary>();
        const std::string dir = test::stories260k().toStdString();
        w.start(QStringLiteral("open"), [result, dir](const glq::ProgressFn& report, const glq::CancelToken& cancel) {
            *result = read_model_summary(dir, report, cancel);
        });
        QVERIFY(finished.wait(10000));
        QCOMPARE(result->linears.size(), 35);
        QVERIFY(progress.count() >= 2);
        QCOMPARE(progress.last().at(0).value<JobProgress>().permille(), 1000);
    }

    void destructorCancelsARunningJob() {
        std::atomic<int> reached{0};
        {
            Worker w;
            w.start(QStringLiteral("long"), counting_job(1000000, &reached, std::chrono::milliseconds(1)));
            QTRY_VERIFY(reached.load() > 0);
        }  // must not hang or crash
        const int at = reached.load();
        QTest::qWait(20);
        QCOMPARE(reached.load(), at);  // the job really stopped
    }

    void etaFormatting() {
        QCOMPARE(format_eta(-1), QString());
        QCOMPARE(format_eta(12.4), QStringLiteral("12 s left"));
        QCOMPARE(format_eta(65), QStringLiteral("1:05 left"));
        QCOMPARE(format_eta(3725), QStringLiteral("1:02:05 left"));
    }
};

GLQ_QTEST_MAIN(TestWorker)
#include "test_worker.moc"
