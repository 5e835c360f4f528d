// The pipeline views on a real tiny model, offscreen: stories260K with its
// MLP widened 172 -> 176 by zero rows/columns (the quantizer needs every
// in_features to be a multiple of 8; the function is unchanged), built here
// by tests/support/tiny_model (torch-free, shared with the core tests).
//  * Quantize: Worker progress, per-linear signals, the loss plot and its
//    CSV, finished -> checkpoint + Compare offered; a cancel leaves no output.
//  * Export: the checkpoint copied with a model card (bpw map, calibration,
//    perplexity).
//  * Calibration: Run profiles the model and the table feeds the bpw map.
//  * MainWindow: a bad model folder -> one error dialog, the window usable.

#include <QComboBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QtTest>
#include <qcustomplot.h>

#include <cstring>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "ui/bpw_map_model.h"
#include "ui/calibration_view.h"
#include "ui/export_view.h"
#include "ui/job_progress_panel.h"
#include "ui/log_dock.h"
#include "ui/main_window.h"
#include "ui/plot_panel.h"
#include "ui/quantize_view.h"
#include "ui/worker.h"
#include "tests/support/tiny_model.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

// stories260K widened so that GLQ can quantize it (tests/support/tiny_model.h).
QString make_tiny_model(const QString& dir) {
    glq::test::make_padded_stories(test::shared_data().toStdString(), dir.toStdString());
    return dir;
}

// Calibration settings with these windows and the defaults for the rest.
CalibrationSettings windows(const QString& text, int nsamples, int seqlen, int seed) {
    CalibrationSettings s;
    s.text_path = text;
    s.nsamples = nsamples;
    s.seqlen = seqlen;
    s.seed = seed;
    return s;
}

QString text_slice(const QTemporaryDir& dir, const QString& name, qint64 offset, qint64 size) {
    QFile f(test::shared_data() + QStringLiteral("/tinyshakespeare/input.txt"));
    if (!f.open(QIODevice::ReadOnly)) qFatal("tinyshakespeare missing");
    f.seek(offset);
    return test::write_text(dir, name, f.read(size));
}

// Small calibration so the whole job takes seconds on a shared CPU.
glq::session::JobOptions calibration(const QString& text, const QString& cache) {
    glq::session::JobOptions o;
    o.calibration.text_files = {text.toStdString()};
    o.calibration.nsamples = 4;
    o.calibration.seqlen = 64;
    o.calibration.seed = 1;
    o.cache_dir = cache.toStdString();
    return o;
}

QStringList tiny_linears() {
    QStringList names;
    for (int l = 0; l < 5; ++l)
        for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
            names << QStringLiteral("model.layers.%1.%2").arg(l).arg(QLatin1String(m));
    return names;
}

// Siblings of `dir` named after it (temporaries), the resume folder aside.
QStringList leftovers(const QString& dir) {
    const QFileInfo info(dir);
    QStringList out;
    for (const QString& n : info.absoluteDir().entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot))
        if (n.contains(info.fileName()) && n != info.fileName() && n != info.fileName() + QStringLiteral(".glq-resume"))
            out << n;
    return out;
}

// With GLQ_UI_SHOTS=DIR, a PNG of `w` as the test left it (evidence for reviews).
void shoot(QWidget* w, const QString& name) {
    const QString dir = qEnvironmentVariable("GLQ_UI_SHOTS");
    if (dir.isEmpty()) return;
    QDir().mkpath(dir);
    w->resize(1300, 850);
    QCoreApplication::processEvents();
    w->grab().save(dir + QLatin1Char('/') + name + QStringLiteral(".png"));
}

QList<QMessageBox*> error_dialogs(QWidget* parent) {
    QList<QMessageBox*> boxes;
    for (QMessageBox* b : parent->findChildren<QMessageBox*>(QStringLiteral("errorDialog")))
        if (b->isVisible()) boxes << b;
    return boxes;
}

} // namespace

class TestUiQuantize : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("GLQ-test"));
        QCoreApplication::setApplicationName(QStringLiteral("ui-quantize-tests"));
        QSettings().clear();
        if (!QFileInfo::exists(test::stories260k() + QStringLiteral("/config.json")))
            QFAIL("stories260K model not found (set GLQ_SHARED_DATA)");
        QVERIFY(tmp_.isValid());
        // Hessians of the MainWindow cases go to the default cache: keep it here.
        qputenv("XDG_CACHE_HOME", tmp_.filePath(QStringLiteral("xdg-cache")).toLocal8Bit());
        tiny_ = make_tiny_model(tmp_.filePath(QStringLiteral("tiny")));
        calib_ = text_slice(tmp_, QStringLiteral("calib.txt"), 0, 40000);
        cache_ = tmp_.filePath(QStringLiteral("hessians"));
    }

    void quantizeReportsProgressLayersAndFinishes() {
        Worker worker;
        QuantizeView view(nullptr, &worker);
        view.show();
        view.setCalibrationProvider([this] { return calibration(calib_, cache_); });
        view.setModel(tiny_, tiny_linears());
        const QString out = tmp_.filePath(QStringLiteral("q3"));
        view.setOutputDir(out);
        view.setTargetBpw(3);
        // Options the job record shows it received (GUI -> session -> job).
        auto* streaming = view.findChild<QComboBox*>(QStringLiteral("layerStreaming"));
        auto* tune = view.findChild<QComboBox*>(QStringLiteral("tunePasses"));
        QVERIFY(streaming && tune);
        streaming->setCurrentIndex(streaming->findData(QStringLiteral("off")));
        tune->setCurrentIndex(tune->findData(0));

        QSignalSpy progress(&worker, &Worker::progress);
        QSignalSpy finished(&worker, &Worker::finished);
        QSignalSpy cancelled(&worker, &Worker::cancelled);
        QSignalSpy failed(&worker, &Worker::failed);
        QSignalSpy layers(&view, &QuantizeView::layerFinished);
        QSignalSpy done(&view, &QuantizeView::runFinished);
        QSignalSpy compare(&view, &QuantizeView::compareRequested);
        QVERIFY(!view.compareButton()->isEnabled());
        QVERIFY(view.run());
        QVERIFY(!view.run());  // one job at a time
        QVERIFY(done.wait(240000));
        QCOMPARE(failed.count(), 0);
        QCOMPARE(cancelled.count(), 0);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(done.first().at(0).toString(), out);
        QVERIFY(progress.count() > 0);
        // Every stage of the job reported, and the last quantize report was complete.
        QSet<QString> stages;
        JobProgress lastQuantize;
        for (const auto& args : progress) {
            const auto p = args.at(0).value<JobProgress>();
            stages << p.stage;
            if (p.stage == QLatin1String("quantize")) lastQuantize = p;
        }
        QVERIFY2(stages.contains(QStringLiteral("calibrate")) && stages.contains(QStringLiteral("quantize")),
                 qPrintable(QStringList(stages.values()).join(QLatin1Char(','))));
        // Quantize progress counts weights: per block q 64x64, k and v 32x64,
        // o 64x64, gate and up 176x64, down 64x176 = 46,080; five blocks.
        QCOMPARE(lastQuantize.unit, QStringLiteral("weights"));
        QCOMPARE(lastQuantize.total, qint64(5 * 46080));
        QCOMPARE(lastQuantize.done, lastQuantize.total);

        QCOMPARE(layers.count(), 35);
        QCOMPARE(int(view.layers().size()), 35);
        for (const auto& args : layers) {
            QCOMPARE(args.at(1).toInt(), 3);
            QVERIFY(args.at(2).toDouble() >= 0);
        }
        QCOMPARE(layers.first().at(0).toString(), QStringLiteral("model.layers.0.self_attn.q_proj"));
        // The plot holds one point per linear with a positive loss; the CSV all 35.
        QCustomPlot* p = view.lossPlot()->plot();
        QCOMPARE(p->graphCount(), 1);
        QVERIFY(p->graph(0)->dataCount() >= 30);
        QVERIFY(!p->xAxis->label().isEmpty() && p->yAxis->label().contains(QStringLiteral("log scale")));
        const QStringList csv = view.lossCsv().trimmed().split(QLatin1Char('\n'));
        QCOMPARE(csv.size(), 36);
        QVERIFY(csv[1].startsWith(QStringLiteral("0,model.layers.0.self_attn.q_proj,3,")));
        QTemporaryDir images;
        view.lossPlot()->saveImage(images.filePath(QStringLiteral("loss.png")));
        QVERIFY(QFileInfo(images.filePath(QStringLiteral("loss.png"))).size() > 1000);
        view.lossPlot()->saveCsv(images.filePath(QStringLiteral("loss.csv")));
        QVERIFY(QFileInfo(images.filePath(QStringLiteral("loss.csv"))).size() > 100);
        QVERIFY(view.logText().contains(QStringLiteral("model.layers.4.mlp.down_proj")));
        QVERIFY2(view.logText().section(QLatin1Char('\n'), 0, 0).contains(QStringLiteral("quantizing")), qPrintable(view.logText().left(400)));
        QCOMPARE(view.blockProgress()->value(), view.blockProgress()->maximum());
        QCOMPARE(view.blockProgress()->maximum(), 7);
        shoot(&view, QStringLiteral("quantize-finished"));

        // The checkpoint is there and complete; Compare is offered.
        QVERIFY(QFileInfo::exists(out + QStringLiteral("/config.json")));
        QVERIFY(QFileInfo::exists(out + QStringLiteral("/model.safetensors")));
        QVERIFY(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(glq::session::kJobRecordFile)));
        {
            QFile f(out + QLatin1Char('/') + QLatin1String(glq::session::kJobRecordFile));
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QJsonObject record = QJsonDocument::fromJson(f.readAll()).object();
            QCOMPARE(record.value(QStringLiteral("rates")).toString(), QStringLiteral("uniform 3 bpw"));
            QCOMPARE(record.value(QStringLiteral("layer_streaming")).toString(), QStringLiteral("off"));
            QCOMPARE(record.value(QStringLiteral("tune_iters")).toInt(-1), 0);
            QCOMPARE(record.value(QStringLiteral("calibration")).toObject().value(QStringLiteral("files")).toArray().at(0).toString(),
                     calib_);
        }
        QVERIFY(!QFileInfo::exists(out + QStringLiteral(".glq-resume")));
        QVERIFY2(leftovers(out).isEmpty(), qPrintable(leftovers(out).join(QLatin1Char(','))));
        QVERIFY(view.compareButton()->isEnabled());
        view.compareButton()->click();
        QCOMPARE(compare.count(), 1);
        QCOMPARE(compare.first().at(0).toString(), tiny_);
        QCOMPARE(compare.first().at(1).toString(), out);
        checkpoint_ = out;

        // A second run into the same folder is refused by the job (not silently replaced).
        QSignalSpy runFailed(&view, &QuantizeView::runFailed);
        QVERIFY(view.run());
        QVERIFY(runFailed.wait(60000));
        QVERIFY2(runFailed.last().at(0).toString() == out, qPrintable(runFailed.last().at(0).toString()));
        QVERIFY(runFailed.last().at(1).toString().contains(QStringLiteral("already exists")));
    }

    void cancelLeavesNoOutputFolder() {
        Worker worker;
        QuantizeView view(nullptr, &worker);
        // More windows than above: each block takes long enough that the
        // cancel lands while later blocks are still to come.
        view.setCalibrationProvider([this] {
            auto o = calibration(calib_, cache_);
            o.calibration.nsamples = 48;
            o.calibration.seqlen = 128;
            o.use_cache = false;
            return o;
        });
        view.setModel(tiny_, tiny_linears());
        const QString out = tmp_.filePath(QStringLiteral("cancelled"));
        view.setOutputDir(out);
        view.setTargetBpw(4);
        QSignalSpy cancelled(&worker, &Worker::cancelled);
        QSignalSpy finished(&worker, &Worker::finished);
        QSignalSpy viewCancelled(&view, &QuantizeView::runCancelled);
        // Cancel through the panel's button as a user would, once the first linear is done.
        connect(&view, &QuantizeView::layerFinished, &view, [&view] {
            for (QPushButton* b : view.progressPanel()->findChildren<QPushButton*>())
                if (b->isEnabled()) b->click();
        });
        QVERIFY(view.run());
        QVERIFY(viewCancelled.wait(240000));
        QCOMPARE(cancelled.count(), 1);
        QCOMPARE(finished.count(), 0);
        QVERIFY(!view.layers().empty());
        QVERIFY(view.layers().size() < 35);
        QVERIFY(!QFileInfo::exists(out));
        QVERIFY2(leftovers(out).isEmpty(), qPrintable(leftovers(out).join(QLatin1Char(','))));
        QVERIFY(!view.compareButton()->isEnabled());
        QVERIFY(view.logText().contains(QStringLiteral("cancelled")));
        shoot(&view, QStringLiteral("quantize-cancelled"));
        QVERIFY(!worker.isRunning());
    }

    void exportWritesModelCard() {
        if (checkpoint_.isEmpty()) QSKIP("needs the checkpoint of quantizeReportsProgressLayersAndFinishes");
        Worker worker;
        ExportView view(&worker);
        view.setCheckpointDir(checkpoint_);
        QCOMPARE(view.outputDir(), checkpoint_ + QStringLiteral("-hf"));  // suggested
        const QString out = tmp_.filePath(QStringLiteral("exported/tiny-glq3"));
        QDir().mkpath(tmp_.filePath(QStringLiteral("exported")));
        view.setOutputDir(out);
        view.setPerplexity(text_slice(tmp_, QStringLiteral("eval.txt"), 600000, 20000), 128, 3);
        QSignalSpy progress(&worker, &Worker::progress);
        QSignalSpy done(&view, &ExportView::exportFinished);
        QSignalSpy failed(&view, &ExportView::exportFailed);
        QVERIFY(view.run());
        QVERIFY(done.wait(120000));
        QCOMPARE(failed.count(), 0);
        QCOMPARE(done.first().at(0).toString(), out);
        QVERIFY(progress.count() > 0);
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "README.md"})
            QVERIFY2(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(f)), f);
        QVERIFY(leftovers(out).isEmpty());
        const QString card = view.modelCard();
        QVERIFY(card.contains(QStringLiteral("# tiny-glq3")));
        QVERIFY(card.contains(QStringLiteral("| model.layers.2.mlp.gate_proj | 3 |")));
        QVERIFY(card.contains(QStringLiteral("calib.txt")));
        QVERIFY(card.contains(QStringLiteral("4 x 64 tokens (seed 1)")));
        QVERIFY2(card.contains(QStringLiteral("| this checkpoint | ")) && card.contains(QStringLiteral("| 3 x 128 |")),
                 qPrintable(card));
        shoot(&view, QStringLiteral("export-finished"));

        // Into an existing folder without "replace": one clear error, nothing changed.
        QSignalSpy failed2(&view, &ExportView::exportFailed);
        view.setPerplexity(QString());
        QVERIFY(view.run());
        QVERIFY(failed2.wait(60000));
        QCOMPARE(failed2.last().at(0).toString(), out);
        QVERIFY(failed2.last().at(1).toString().contains(QStringLiteral("already exists")));
    }

    void calibrationRunFeedsTheBpwMap() {
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.openModel(tiny_);
        QVERIFY(opened.wait(20000));
        CalibrationView* c = w.calibrationView();
        c->setSettings(windows(calib_, 4, 64, 2));
        c->setRates(QStringLiteral("2,4"));
        c->setTableDir(tmp_.filePath(QStringLiteral("tables")));
        QSignalSpy profiled(c, &CalibrationView::profileFinished);
        QVERIFY(c->run());
        QVERIFY(profiled.wait(240000));
        QCOMPARE(errors.count(), 0);
        const QString table = profiled.first().at(0).toString();
        QCOMPARE(table, tmp_.filePath(QStringLiteral("tables/tiny.json")));
        QVERIFY(QFileInfo::exists(table));
        // The bpw map now has measured losses: lower at 4 bpw than at 2.
        QCOMPARE(w.bpwModel()->rowCount(), 35);
        for (const auto& l : w.bpwModel()->layers()) {
            QVERIFY2(l.measured(2) && l.measured(4) && !l.measured(3), l.name.c_str());
            QVERIFY2(l.loss(4) < l.loss(2), l.name.c_str());
        }
        QVERIFY(w.log()->text().contains(QStringLiteral("Loaded sensitivity table")));
        w.setStep(MainWindow::CalibrationStep);
        shoot(&w, QStringLiteral("calibration-profiled"));

        // The Quantize step got the model and runs with the edited map.
        QuantizeView* q = w.quantizeView();
        QCOMPARE(q->modelDir(), tiny_);
        w.bpwModel()->setBpwByPattern(QStringLiteral("*.mlp.*"), 2);
        q->setUseBpwMap(true);
        auto* tune = q->findChild<QComboBox*>(QStringLiteral("tunePasses"));
        QVERIFY(tune);
        QCOMPARE(q->jobOptions().tune_iters, -1);  // auto by default
        tune->setCurrentIndex(tune->findData(2));
        const auto o = q->jobOptions();
        QCOMPARE(o.tune_iters, 2);
        QCOMPARE(int(o.bpw_map.size()), 35);
        QCOMPARE(o.bpw_map.at("model.layers.1.mlp.up_proj"), 2);
        QCOMPARE(o.bpw_map.at("model.layers.1.self_attn.q_proj"), 4);
        QCOMPARE(o.calibration.nsamples, int64_t(4));  // from the Calibration step

        // Every option of `glqw quantize` has a control: layer streaming here,
        // the windows in order and the Hessian cache in the Calibration step.
        auto* streaming = q->findChild<QComboBox*>(QStringLiteral("layerStreaming"));
        QVERIFY(streaming);
        QCOMPARE(q->jobOptions().layer_streaming, std::string("auto"));
        streaming->setCurrentIndex(streaming->findData(QStringLiteral("on")));
        QCOMPARE(q->jobOptions().layer_streaming, std::string("on"));
        QCOMPARE(tune->findData(10) >= 0, true);  // glqw's --tune-iters 0..10
        QVERIFY(q->jobOptions().use_cache && !q->jobOptions().calibration.contiguous);
        c->setSettings({.text_path = calib_ + QStringLiteral(";") + calib_, .nsamples = 4, .seqlen = 64, .seed = 2,
                        .contiguous = true, .use_cache = false, .cache_dir = tmp_.filePath(QStringLiteral("hc"))});
        const auto o2 = q->jobOptions();
        QVERIFY(o2.calibration.contiguous);
        QVERIFY(!o2.use_cache);
        QCOMPARE(QString::fromStdString(o2.cache_dir.string()), tmp_.filePath(QStringLiteral("hc")));
        QCOMPARE(o2.calibration.text_files.size(), size_t(2));
        // ... and they are kept with the other settings.
        QSettings saved(tmp_.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        c->saveSettings(saved);
        q->saveSettings(saved);
        c->setSettings({});
        streaming->setCurrentIndex(0);
        c->loadSettings(saved);
        q->loadSettings(saved);
        QVERIFY(c->settings().contiguous && !c->settings().use_cache);
        QCOMPARE(c->settings().cache_dir, tmp_.filePath(QStringLiteral("hc")));
        QCOMPARE(q->jobOptions().layer_streaming, std::string("on"));

        // `glqw profile`'s --stream-layers and --tune-iters: the Calibration
        // step's own, which the Quantize step does not take over.
        auto* profileStreaming = c->findChild<QComboBox*>(QStringLiteral("profileLayerStreaming"));
        auto* profileTune = c->findChild<QComboBox*>(QStringLiteral("profileTunePasses"));
        QVERIFY(profileStreaming && profileTune);
        QCOMPARE(c->jobOptions().layer_streaming, std::string("auto"));
        QCOMPARE(c->jobOptions().tune_iters, -1);
        profileStreaming->setCurrentIndex(profileStreaming->findData(QStringLiteral("off")));
        profileTune->setCurrentIndex(profileTune->findData(2));
        QCOMPARE(c->jobOptions().layer_streaming, std::string("off"));
        QCOMPARE(c->jobOptions().tune_iters, 2);
        QCOMPARE(q->jobOptions().layer_streaming, std::string("on"));
        QCOMPARE(q->jobOptions().tune_iters, tune->currentData().toInt());
        c->saveSettings(saved);
        profileStreaming->setCurrentIndex(0);
        profileTune->setCurrentIndex(0);
        c->loadSettings(saved);
        QCOMPARE(c->jobOptions().layer_streaming, std::string("off"));
        QCOMPARE(c->jobOptions().tune_iters, 2);
    }

    void profileCancelWritesNoTable() {
        MainWindow w;
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openModel(tiny_);
        QVERIFY(opened.wait(20000));
        CalibrationView* c = w.calibrationView();
        c->setSettings(windows(calib_, 32, 128, 5));
        c->setTableDir(tmp_.filePath(QStringLiteral("tables-cancelled")));
        QSignalSpy cancelled(c, &CalibrationView::profileCancelled);
        QSignalSpy finished(c, &CalibrationView::profileFinished);
        QVERIFY(c->run());
        QVERIFY(c->progressPanel()->isTracking());
        c->progressPanel()->findChild<QPushButton*>()->click();  // the panel's one button: Cancel
        QVERIFY(cancelled.wait(60000));
        QCOMPARE(finished.count(), 0);
        QVERIFY(!c->progressPanel()->isTracking());
        QCOMPARE(QDir(tmp_.filePath(QStringLiteral("tables-cancelled"))).entryList(QDir::Files | QDir::Hidden).size(), 0);
        for (const auto& l : w.bpwModel()->layers()) QVERIFY(!l.measured(2));
        QCOMPARE(w.jobStatus(), QStringLiteral("idle"));
        QVERIFY(w.calibrationView()->findChild<QPushButton*>(QStringLiteral("runProfile"))->isEnabled());
    }

    void badModelShowsErrorAndWindowStaysUsable() {
        MainWindow w;
        w.show();
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.calibrationView()->setSettings(windows(calib_, 4, 64, 1));
        QuantizeView* q = w.quantizeView();
        // The real stories260K: its MLP width 172 is not a multiple of 8.
        q->setModel(test::stories260k());
        q->setOutputDir(tmp_.filePath(QStringLiteral("never")));
        QVERIFY(q->run());
        QVERIFY(errors.wait(60000));
        QVERIFY2(errors.last().at(0).toString().contains(QStringLiteral("172")) &&
                     errors.last().at(0).toString().contains(QStringLiteral("multiple")),
                 qPrintable(errors.last().at(0).toString()));
        QCOMPARE(error_dialogs(&w).size(), 1);
        QVERIFY(!error_dialogs(&w).first()->isModal());
        QVERIFY(!QFileInfo::exists(tmp_.filePath(QStringLiteral("never"))));
        for (QMessageBox* b : error_dialogs(&w)) b->close();

        // A folder that does not exist: the error names it.
        q->setModel(tmp_.filePath(QStringLiteral("no-such-model")));
        QVERIFY(q->run());
        QVERIFY(errors.wait(60000));
        QVERIFY2(errors.last().at(0).toString().contains(QStringLiteral("no-such-model")),
                 qPrintable(errors.last().at(0).toString()));
        QCOMPARE(errors.count(), 2);
        QVERIFY(!w.worker()->isRunning());
        QCOMPARE(w.jobStatus(), QStringLiteral("idle"));

        // Export of a folder that is not a checkpoint: refused the same way.
        w.exportView()->setCheckpointDir(tiny_);
        w.exportView()->setOutputDir(tmp_.filePath(QStringLiteral("not-exported")));
        QVERIFY(w.exportView()->run());
        QVERIFY(errors.wait(60000));
        QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("not a GLQ checkpoint")));
        QVERIFY(!QFileInfo::exists(tmp_.filePath(QStringLiteral("not-exported"))));

        // Still usable: the tiny model opens and Run is offered.
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openModel(tiny_);
        QVERIFY(opened.wait(20000));
        QCOMPARE(q->modelDir(), tiny_);
        QVERIFY(w.calibrationView()->findChild<QPushButton*>(QStringLiteral("runProfile"))->isEnabled());
        QCOMPARE(errors.count(), 3);
    }

private:
    QTemporaryDir tmp_;
    QString tiny_;
    QString calib_;
    QString cache_;
    QString checkpoint_;
};

GLQ_QTEST_MAIN(TestUiQuantize)
#include "test_ui_quantize.moc"
