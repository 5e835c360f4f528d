// MainWindow driven offscreen: a corrupt or missing model shows an error (in
// the log and a non-modal dialog) and leaves the window usable — the next
// open of a good model works; bad bpw maps and sensitivity tables are
// refused the same way; recent files persist through QSettings; clicking a
// layer in a plot selects it in the bpw table.

#include <QMessageBox>
#include <QMimeData>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QtTest>

#include "core/common/error.h"
#include "ui/bpw_map_model.h"
#include "ui/bpw_map_view.h"
#include "ui/layer_table_model.h"
#include "ui/log_dock.h"
#include "ui/main_window.h"
#include "ui/model_view.h"
#include "ui/plot_panel.h"
#include <qcustomplot.h>
#include "ui/sensitivity_plots.h"
#include "ui/worker.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {
QList<QMessageBox*> error_dialogs(QWidget* parent) {
    QList<QMessageBox*> boxes;
    for (QMessageBox* b : parent->findChildren<QMessageBox*>(QStringLiteral("errorDialog")))
        if (b->isVisible()) boxes << b;
    return boxes;
}

void close_dialogs(QWidget* parent) {
    for (QMessageBox* b : error_dialogs(parent)) b->close();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
}

// Copies stories260K's small files into `dir` and writes `weights` as its
// model.safetensors: a folder that is right in every way but its weights.
QString model_with_weights(const QTemporaryDir& dir, const QByteArray& weights) {
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
        QFile::copy(test::stories260k() + QLatin1Char('/') + QLatin1String(f), dir.filePath(QLatin1String(f)));
    test::write_text(dir, QStringLiteral("model.safetensors"), weights);
    return dir.path();
}
} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location
        QCoreApplication::setOrganizationName(QStringLiteral("GLQ-test"));
        QCoreApplication::setApplicationName(QStringLiteral("ui-tests"));
        QSettings().clear();
        if (!QFileInfo::exists(test::stories260k() + QStringLiteral("/config.json")))
            QSKIP("stories260K model not found (set GLQ_SHARED_DATA)");
    }

    void corruptModelShowsErrorAndWindowStaysUsable() {
        MainWindow w;
        w.show();
        QSignalSpy errors(&w, &MainWindow::errorShown);
        QSignalSpy opened(&w, &MainWindow::modelOpened);

        // 1. A truncated safetensors header (claims 1000 header bytes, has 4).
        QTemporaryDir truncated;
        QByteArray bad(8, '\0');
        bad[0] = char(0xe8), bad[1] = char(0x03);
        model_with_weights(truncated, bad + "{\"a\"");
        w.openModel(truncated.path());
        QVERIFY(errors.wait(10000));
        QVERIFY2(errors.last().at(0).toString().contains(QStringLiteral("model.safetensors")),
                 qPrintable(errors.last().at(0).toString()));
        QCOMPARE(error_dialogs(&w).size(), 1);
        QVERIFY(!error_dialogs(&w).first()->isModal());
        QVERIFY(w.log()->text().contains(QStringLiteral("[error]")));
        QVERIFY(!w.worker()->isRunning());
        QCOMPARE(w.jobStatus(), QStringLiteral("idle"));
        QVERIFY(!w.modelView()->hasModel());
        close_dialogs(&w);

        // 2. config.json that is not JSON.
        QTemporaryDir garbage;
        model_with_weights(garbage, QByteArray(64, 'x'));
        test::write_text(garbage, QStringLiteral("config.json"), "{ this is not json");
        w.openModel(garbage.path());
        QVERIFY(errors.wait(10000));
        QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("config.json")));

        // 3. A folder that does not exist.
        w.openPath(QStringLiteral("/nonexistent/model"));
        QCOMPARE(errors.count(), 3);
        QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("no such file or folder")));
        close_dialogs(&w);

        // The window still works: a good model opens.
        w.openModel(test::stories260k());
        QVERIFY(opened.wait(10000));
        QCOMPARE(errors.count(), 3);
        QVERIFY(w.modelView()->hasModel());
        QCOMPARE(w.modelView()->layerModel()->rowCount(), 35);
        QCOMPARE(w.bpwModel()->rowCount(), 35);
        QVERIFY(w.recentFiles().first().endsWith(QStringLiteral("stories260K")));
    }

    void badBpwMapAndSensitivityAreRefused() {
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QSignalSpy errors(&w, &MainWindow::errorShown);
        w.openModel(test::stories260k());
        QVERIFY(opened.wait(10000));
        QTemporaryDir dir;
        const QString map = test::write_text(dir, QStringLiteral("map.json"), "{\"model.layers.0.mlp.up_proj\": 12}");
        QVERIFY(!w.loadBpwMap(map));
        QCOMPARE(errors.count(), 1);
        QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("outside 2..8")));
        const QString sens = test::write_text(dir, QStringLiteral("s.json"),
                                              R"({"format": "glq-sensitivity", "version": 1, "layers": [)"
                                              R"({"name": "other.model.q_proj", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}}]})");
        QVERIFY(!w.loadSensitivity(sens));
        QVERIFY(errors.last().at(0).toString().contains(QStringLiteral("none of its layers")));
        close_dialogs(&w);

        // A good map saved and loaded back through the window.
        w.bpwModel()->setBpwByPattern(QStringLiteral("*.mlp.down_proj"), 6);
        const QString saved = dir.filePath(QStringLiteral("bpw_allocation.json"));
        QVERIFY(w.saveBpwMap(saved));
        w.bpwModel()->undoStack()->undo();
        QCOMPARE(w.bpwModel()->bpwAt(6), 4);
        QVERIFY(w.loadBpwMap(saved));
        QCOMPARE(w.bpwModel()->bpwAt(6), 6);
        QCOMPARE(errors.count(), 2);
    }

    void sensitivityDrivesPlotsAndClickSelects() {
        MainWindow w;
        w.resize(1400, 900);
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        w.openModel(test::stories260k());
        QVERIFY(opened.wait(10000));
        // A table measured for two of the model's layers.
        QTemporaryDir dir;
        const QString sens = test::write_text(
            dir, QStringLiteral("s.json"),
            R"({"format": "glq-sensitivity", "version": 1, "layers": [)"
            R"({"name": "model.layers.0.self_attn.q_proj", "rows": 64, "cols": 64, "proxy_loss": {"2": 0.5, "4": 0.03}},)"
            R"({"name": "model.layers.3.mlp.down_proj", "rows": 64, "cols": 172, "proxy_loss": {"2": 2.0}}]})");
        QVERIFY(w.loadSensitivity(sens));
        QCOMPARE(w.bpwModel()->summary().layers_without_loss, 33);
        // Allocating needs every layer measured (core's allocator, as glqw
        // allocate): one error naming the first unmeasured layer and counting
        // the rest; the map is untouched.
        try {
            w.bpwModel()->allocate(3.0);
            QFAIL("allocating over unmeasured layers did not throw");
        } catch (const glq::Error& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("model.layers.0.self_attn.k_proj: has no "
                                                                              "measured proxy loss")), e.what());
            QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("nor have 32 more of its 35 layers")), e.what());
        }
        QCOMPARE(w.bpwModel()->bpwAt(0), 4);
        QCOMPARE(w.bpwModel()->undoStack()->count(), 0);

        // Click the bar of model.layers.3.mlp.down_proj (row 27) in the bpw view's plot.
        w.setStep(MainWindow::BpwMapStep);
        QCoreApplication::processEvents();
        SensitivityPlots* plots = w.bpwMapView()->plots();
        QCustomPlot* bars = plots->barsPanel()->plot();
        const QPoint at(int(bars->xAxis->coordToPixel(27)), int(bars->yAxis->coordToPixel(1.0)));
        QTest::mouseClick(bars, Qt::LeftButton, {}, at);
        QCOMPARE(w.bpwMapView()->selectedRows(), QList<int>{27});
        QCOMPARE(plots->selectedRows(), QList<int>{27});
        QVERIFY(plots->barTooltip(27).contains(QStringLiteral("model.layers.3.mlp.down_proj")));
        // The model view's layer table follows.
        QCOMPARE(w.modelView()->layerTable()->currentIndex().siblingAtColumn(0).data().toString(),
                 QStringLiteral("model.layers.3.mlp.down_proj"));
        // Every plot exports its data.
        QVERIFY(plots->barsPanel()->csv().startsWith(QStringLiteral("row,layer,module")));
        QCOMPARE(plots->barsPanel()->csv().count(QLatin1Char('\n')), 36);
        QVERIFY(plots->curvesPanel()->csv().contains(QStringLiteral("model.layers.3.mlp.down_proj,4,0.125,0,")));
        const QString png = dir.filePath(QStringLiteral("bars.png"));
        plots->barsPanel()->saveImage(png);
        QVERIFY(QImage(png).width() > 100);
#ifdef GLQ_HAVE_QT_SVG
        const QString svg = dir.filePath(QStringLiteral("heatmap.svg"));
        plots->heatmapPanel()->saveImage(svg);
        QFile f(svg);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readAll().contains("<svg"));
#endif
    }

    void ggufThatCannotBeImportedShowsErrorAndLeavesNothing() {
        // A vocabulary-only GGUF (gpt2, no weights): the importer refuses it.
        const QString gguf = test::shared_data() + QStringLiteral("/models/gguf-fixtures/ggml-vocab-gpt-2.gguf");
        if (!QFileInfo::exists(gguf)) QSKIP("gguf fixture not found");
        MainWindow w;
        w.show();
        QSignalSpy errors(&w, &MainWindow::errorShown);
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QTemporaryDir dir;
        const QString out = dir.filePath(QStringLiteral("imported"));
        w.importGguf(gguf, out);
        QVERIFY(errors.wait(30000));
        QVERIFY2(errors.last().at(0).toString().contains(QStringLiteral("ggml-vocab-gpt-2.gguf")),
                 qPrintable(errors.last().at(0).toString()));
        QCOMPARE(opened.count(), 0);
        QVERIFY(!QFileInfo::exists(out));
        QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden).size(), 0);
        close_dialogs(&w);
        w.openModel(test::stories260k());  // still usable
        QVERIFY(opened.wait(10000));
    }

    void dropAFolderOpensIt() {
        MainWindow w;
        w.show();
        QSignalSpy opened(&w, &MainWindow::modelOpened);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(test::stories260k())});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        enter.setAccepted(false);  // events start accepted; the window must accept it itself
        QCoreApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &drop);
        QVERIFY(opened.wait(10000));
        QCOMPARE(w.modelView()->layerModel()->rowCount(), 35);
        // A plain text file is not offered as a drop target.
        QTemporaryDir dir;
        QMimeData text;
        text.setUrls({QUrl::fromLocalFile(test::write_text(dir, QStringLiteral("notes.txt"), "hi"))});
        QDragEnterEvent refuse(QPoint(10, 10), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
        refuse.setAccepted(false);
        QCoreApplication::sendEvent(&w, &refuse);
        QVERIFY(!refuse.isAccepted());
    }

    void settingsPersist() {
        {
            MainWindow w;
            QSignalSpy opened(&w, &MainWindow::modelOpened);
            w.openModel(test::stories260k());
            QVERIFY(opened.wait(10000));
            w.setStep(MainWindow::BpwMapStep);
            w.close();  // saves geometry, state, step, recent files
        }
        MainWindow again;
        QVERIFY(!again.recentFiles().isEmpty());
        QVERIFY(again.recentFiles().first().endsWith(QStringLiteral("stories260K")));
        QCOMPARE(again.step(), MainWindow::BpwMapStep);
    }
};

GLQ_QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
