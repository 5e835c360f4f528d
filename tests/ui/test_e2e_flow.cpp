// The workbench's main flow, end to end, through the real widgets of one
// MainWindow as a user would drive it (sidebar clicks, the folder dialog,
// typing into the fields found by their labels, button clicks, a click on a
// sensitivity bar), on the CPU:
//
//   open the model folder -> calibrate + profile (4 x 128 tokens, rates 2,3,4)
//   -> allocate a 3.5 bpw average in [2, 4] -> quantize with that map
//   -> Compare: both panes answer one prompt -> Export with a model card
//   (perplexity on 2 windows of wikitext-2 test).
//
// Two sizes of the same flow (GLQ_E2E_MODEL):
//   tiny (default, CTest's test_e2e_flow): stories260K widened so that GLQ
//     quantizes it (tests/support/tiny_model.h), 5 blocks, 35 linears. The
//     whole flow takes seconds, so the suite's verdict does not depend on
//     how busy the machine is: the waits below are bounds against a hang,
//     hundreds of times what a step needs.
//   demo (CTest's bench_e2e_flow_demo, run with `ctest -C Benchmark -R
//     bench_e2e`): the demo model (SmolLM2-135M-Instruct, 30 blocks, 210
//     linears), 4.6 to 6 minutes on a 2-core machine; a benchmark, not a
//     test the suite waits on. It exits 77 (skipped) when the demo model is
//     missing ($GLQ_DEMO_MODEL, imported by installer/setup.sh).
//
// After each step it saves a PNG of the whole window (1400 x 900) with that
// step's view showing, into $GLQ_UI_SHOTS (default: the test's temporary
// folder). The demo run's are the README's screenshots (docs/screenshots/).

#include <QAbstractSpinBox>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTableView>
#include <QTextBrowser>
#include <QTimer>
#include <QtTest>
#include <cstdio>
#include <qcustomplot.h>

#include "ui/bpw_map_model.h"
#include "ui/bpw_map_view.h"
#include "ui/calibration_view.h"
#include "ui/chat_pane.h"
#include "ui/compare_view.h"
#include "ui/export_view.h"
#include "ui/job_progress_panel.h"
#include "ui/layer_table_model.h"
#include "ui/main_window.h"
#include "ui/model_view.h"
#include "ui/plot_panel.h"
#include "ui/quantize_view.h"
#include "ui/sensitivity_plots.h"
#include "tests/support/tiny_model.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

// Generous per-step limits: the machine is shared, and a step that hangs
// should fail the test, not CTest's timeout.
constexpr int kOpenMs = 60'000;
constexpr int kJobMs = 600'000;
constexpr QSize kShotSize(1400, 900);

QString demo_model() { return qEnvironmentVariable("GLQ_DEMO_MODEL"); }

// Which model the flow drives and what it must find there (see the top).
struct Flow {
    bool demo = false;
    QString model;       // the folder the Open dialog picks
    int linears = 0;     // blocks x q k v o gate up down
    double min_ppl_ratio = 0.9, max_ppl_ratio = 2.0;  // quantized / original at 3.5 bpw
};
Flow g_flow;
QString wikitext() { return test::shared_data() + QStringLiteral("/wikitext-2-raw/wiki.test.raw"); }

// The visible widget of type T whose label (a QLabel with exactly `label`,
// ignoring a trailing ':') sits on the same line just left of it: what a
// user reads to find a field, whatever layout holds the two.
template <typename T>
T* field(QWidget* root, const QString& label) {
    const auto norm = [](QString s) {
        s = s.trimmed();
        if (s.endsWith(QLatin1Char(':'))) s.chop(1);
        return s;
    };
    for (QLabel* l : root->findChildren<QLabel*>()) {
        if (!l->isVisible() || norm(l->text()) != norm(label)) continue;
        const QRect lr(l->mapTo(root, QPoint(0, 0)), l->size());
        T* best = nullptr;
        int bestX = INT_MAX;
        for (T* w : root->findChildren<T*>()) {
            if (!w->isVisible()) continue;
            const QRect wr(w->mapTo(root, QPoint(0, 0)), w->size());
            const int cy = wr.center().y();
            if (cy < lr.top() || cy > lr.bottom() || wr.left() < lr.right()) continue;
            if (wr.left() < bestX) {
                best = w;
                bestX = wr.left();
            }
        }
        if (best) return best;
    }
    return nullptr;
}

template <typename T>
T* with_text(QWidget* root, const QString& text) {
    for (T* w : root->findChildren<T*>())
        if (w->text() == text) return w;
    return nullptr;
}

// Replaces a line edit's text by typing, as a user would.
void type_into(QLineEdit* edit, const QString& text) {
    edit->setFocus();
    edit->selectAll();
    QTest::keyClick(edit, Qt::Key_Delete);
    QTest::keyClicks(edit, text);
    QTest::keyClick(edit, Qt::Key_Home);  // nothing left selected in the screenshots
    edit->clearFocus();
}

// Sets a spin box by typing the number (the suffix stays) and Enter.
void type_into(QAbstractSpinBox* spin, const QString& number) {
    spin->setFocus();
    spin->selectAll();
    QTest::keyClicks(spin, number);
    QTest::keyClick(spin, Qt::Key_Enter);
    QTest::keyClick(spin, Qt::Key_End);  // Enter selects the value: deselect it for the screenshots
    spin->clearFocus();
}

void click(QAbstractButton* b) {
    QVERIFY2(b, "button not found");
    QVERIFY2(b->isEnabled(), qPrintable(b->text() + QStringLiteral(" is disabled")));
    // A check or radio box reacts to its indicator and text only, and a
    // layout may make it much wider than those: click on the indicator.
    const bool box = qobject_cast<QCheckBox*>(b) || qobject_cast<QRadioButton*>(b);
    QTest::mouseClick(b, Qt::LeftButton, {}, box ? QPoint(8, b->height() / 2) : b->rect().center());
}

QList<QMessageBox*> error_dialogs(QWidget* parent) {
    QList<QMessageBox*> boxes;
    for (QMessageBox* b : parent->findChildren<QMessageBox*>(QStringLiteral("errorDialog")))
        if (b->isVisible()) boxes << b;
    return boxes;
}

QString error_texts(QWidget* parent) {
    QStringList out;
    for (QMessageBox* b : error_dialogs(parent)) out << b->informativeText() + QStringLiteral(": ") + b->text();
    return out.join(QLatin1Char('\n'));
}

int points(const PlotPanel* panel) {
    int n = 0;
    QCustomPlot* p = panel->plot();
    for (int i = 0; i < p->plottableCount(); ++i) n += p->plottable(i)->interface1D() ? p->plottable(i)->interface1D()->dataCount() : 0;
    return n;
}

QString read_text(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

} // namespace

class TestE2eFlow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("GLQ-test"));
        QCoreApplication::setApplicationName(QStringLiteral("ui-e2e"));
        QSettings().clear();
        QVERIFY(tmp_.isValid());
        // Hessians and the sensitivity table stay in this run's folder: the
        // flow measures everything itself, every time.
        qputenv("XDG_CACHE_HOME", tmp_.filePath(QStringLiteral("xdg-cache")).toLocal8Bit());
        qputenv("XDG_DATA_HOME", tmp_.filePath(QStringLiteral("xdg-data")).toLocal8Bit());
        // The bundled Brown corpus is found next to an installed or built
        // program; this test binary is neither, so point at the source tree.
        if (qEnvironmentVariableIsEmpty("GLQ_CALIBRATION_DIR")) {
            const QString src = qEnvironmentVariable("GLQ_SOURCE_DIR", QDir::currentPath());
            qputenv("GLQ_CALIBRATION_DIR", (src + QStringLiteral("/resources/calibration")).toLocal8Bit());
        }
        shots_ = qEnvironmentVariable("GLQ_UI_SHOTS", tmp_.filePath(QStringLiteral("screenshots")));
        QVERIFY(QDir().mkpath(shots_));
        qInfo("screenshots go to %s", qPrintable(shots_));

        w_ = std::make_unique<MainWindow>();
        w_->resize(kShotSize);
        w_->show();
        QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
        total_.start();
        step_.start();
    }

    void cleanupTestCase() {
        qInfo("whole flow: %.1f s", total_.elapsed() / 1000.0);
        w_.reset();
    }

    // Model: the Open button's folder dialog picks the demo model.
    void openModel() {
        goTo(MainWindow::ModelStep);
        QSignalSpy opened(w_.get(), &MainWindow::modelOpened);
        bool seen = false;  // the dialog is gone once accepted
        QTimer poll;
        connect(&poll, &QTimer::timeout, this, [&] {
            auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
            if (!dialog) return;
            poll.stop();
            seen = true;
            dialog->setDirectory(g_flow.model);  // "Choose" takes the folder shown
            QAbstractButton* choose = nullptr;
            if (auto* box = dialog->findChild<QDialogButtonBox*>()) choose = box->button(QDialogButtonBox::Open);
            if (choose) QTest::mouseClick(choose, Qt::LeftButton);
            else QMetaObject::invokeMethod(dialog, "accept");
        });
        poll.start(50);
        click(with_text<QPushButton>(w_->modelView(), QStringLiteral("Open model folder…")));
        QVERIFY2(seen, "no folder dialog appeared");
        QVERIFY2(opened.wait(kOpenMs) || opened.count(), qPrintable(error_texts(w_.get())));
        QCOMPARE(opened.first().at(0).toString(), QFileInfo(g_flow.model).absoluteFilePath());
        const ModelSummary& s = w_->modelView()->summary();
        QVERIFY2(s.architecture.contains(QStringLiteral("llama"), Qt::CaseInsensitive), qPrintable(s.architecture));
        QCOMPARE(int(s.linears.size()), g_flow.linears);  // blocks x q k v o gate up down
        QCOMPARE(w_->modelView()->layerTable()->model()->rowCount(), g_flow.linears);
        QCOMPARE(w_->bpwModel()->rowCount(), g_flow.linears);
        QCOMPARE(w_->jobStatus(), QStringLiteral("idle"));
        stepTime(QStringLiteral("open"));
        shoot(MainWindow::ModelStep);
    }

    // Calibration & sensitivity: small settings typed in, Run, wait, plots drawn.
    void calibrateAndProfile() {
        QVERIFY(w_->modelView()->hasModel());
        goTo(MainWindow::CalibrationStep);
        CalibrationView* c = w_->calibrationView();
        c->setTableDir(tmp_.filePath(QStringLiteral("sensitivity")));
        auto* nsamples = field<QSpinBox>(c, QStringLiteral("nsamples"));
        auto* seqlen = field<QSpinBox>(c, QStringLiteral("seqlen"));
        auto* seed = field<QSpinBox>(c, QStringLiteral("Seed"));
        auto* device = field<QComboBox>(c, QStringLiteral("Device"));
        auto* rates = field<QLineEdit>(c, QStringLiteral("Rates (bpw)"));
        QVERIFY(nsamples && seqlen && seed && device && rates);
        type_into(nsamples, QStringLiteral("4"));
        type_into(seqlen, QStringLiteral("128"));
        type_into(seed, QStringLiteral("1"));
        device->setCurrentIndex(device->findText(QStringLiteral("cpu")));
        type_into(rates, QStringLiteral("2,3,4"));
        QCOMPARE(c->settings().nsamples, 4);
        QCOMPARE(c->settings().seqlen, 128);
        QCOMPARE(c->device(), QStringLiteral("cpu"));
        QCOMPARE(c->rates(), (std::vector<int>{2, 3, 4}));

        QSignalSpy done(c, &CalibrationView::profileFinished);
        QSignalSpy failed(c, &CalibrationView::profileFailed);
        click(c->findChild<QPushButton*>(QStringLiteral("runProfile")));
        QVERIFY(c->progressPanel()->isTracking());
        QTRY_VERIFY_WITH_TIMEOUT(done.count() + failed.count() > 0, kJobMs);
        QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.first().at(1).toString()));
        QVERIFY(QFileInfo::exists(done.first().at(0).toString()));
        // Every layer measured at each rate, less loss with more bits.
        int lower = 0;
        for (const auto& l : w_->bpwModel()->layers()) {
            QVERIFY2(l.measured(2) && l.measured(3) && l.measured(4), l.name.c_str());
            lower += l.loss(4) < l.loss(2);
        }
        QCOMPARE(lower, g_flow.linears);
        SensitivityPlots* plots = c->plots();
        QCOMPARE(points(plots->barsPanel()), g_flow.linears);
        QVERIFY(plots->heatmapPanel()->plot()->plottableCount() > 0);
        stepTime(QStringLiteral("calibrate + profile"));

        // Clicking the tallest bar selects its layer (bpw table too), and
        // the loss-vs-bpw plot draws its curve.
        int tallest = 0;
        for (int row = 1; row < g_flow.linears; ++row)
            if (w_->bpwModel()->layers()[row].loss(2) > w_->bpwModel()->layers()[tallest].loss(2)) tallest = row;
        QCustomPlot* bars = plots->barsPanel()->plot();
        bars->replot(QCustomPlot::rpImmediateRefresh);
        const QPoint at(qRound(bars->xAxis->coordToPixel(tallest)),
                        qRound(bars->yAxis->coordToPixel(w_->bpwModel()->layers()[tallest].loss(2)) + 3));
        QTest::mouseClick(bars, Qt::LeftButton, {}, at);
        QCOMPARE(w_->bpwMapView()->selectedRows(), QList<int>{tallest});
        QCOMPARE(plots->selectedRows(), QList<int>{tallest});
        QVERIFY(points(plots->curvesPanel()) > 0);
        shoot(MainWindow::CalibrationStep);
    }

    // bpw map: target 3.5, min 2, max 4, Allocate; a few rows picked for the curves.
    void allocate() {
        QVERIFY(!w_->bpwModel()->layers().empty() && w_->bpwModel()->layers()[0].measured(3));
        goTo(MainWindow::BpwMapStep);
        BpwMapView* v = w_->bpwMapView();
        auto* target = field<QDoubleSpinBox>(v, QStringLiteral("Target average"));
        auto* minBpw = field<QSpinBox>(v, QStringLiteral("min"));
        auto* maxBpw = field<QSpinBox>(v, QStringLiteral("max"));
        QVERIFY(target && minBpw && maxBpw);
        type_into(target, QStringLiteral("3.5"));
        type_into(minBpw, QStringLiteral("2"));
        type_into(maxBpw, QStringLiteral("4"));
        QCOMPARE(target->value(), 3.5);
        QCOMPARE(maxBpw->value(), 4);
        click(with_text<QPushButton>(v, QStringLiteral("Allocate")));
        QCOMPARE(error_dialogs(w_.get()).size(), 0);
        const glq::plan::BudgetSummary b = w_->bpwModel()->summary();
        QVERIFY2(b.average_bpw <= 3.5 + 1e-9 && b.average_bpw > 3.3, qPrintable(QString::number(b.average_bpw)));
        QSet<int> used;
        for (int bpw : w_->bpwModel()->bpw()) used << bpw;
        QVERIFY2(used.contains(3) || (used.contains(2) && used.contains(4)), "a 3.5 average needs mixed rates");
        for (int bpw : used) QVERIFY(bpw >= 2 && bpw <= 4);
        QVERIFY(v->readout().contains(QStringLiteral("3.")));

        // Ctrl-click three more rows of the table: the curves follow the selection.
        QTableView* t = v->table();
        const QList<int> before = v->selectedRows();  // the tallest bar's row, clicked in the last step
        QList<int> more;
        for (int row : {0, 5, 6, 1, 2})
            if (!before.contains(row) && more.size() < 3) more << row;  // a Ctrl-click on it would unselect it
        for (int row : more) {
            const QModelIndex i = t->model()->index(row, BpwMapModel::Name);
            t->scrollTo(i);
            QTest::mouseClick(t->viewport(), Qt::LeftButton, Qt::ControlModifier, t->visualRect(i).center());
        }
        QCOMPARE(v->selectedRows().size(), int(before.size() + more.size()));
        QVERIFY(points(v->plots()->curvesPanel()) >= 4 * 3);
        t->scrollToTop();
        shoot(MainWindow::BpwMapStep);
    }

    // Quantize: the map, the CPU, an output folder; Run; wait; Compare offered.
    void quantize() {
        goTo(MainWindow::QuantizeStep);
        QuantizeView* q = w_->quantizeView();
        QCOMPARE(q->modelDir(), QFileInfo(g_flow.model).absoluteFilePath());
        click(with_text<QRadioButton>(q, QStringLiteral("bpw map of the bpw map step")));
        auto* device = field<QComboBox>(q, QStringLiteral("Device"));
        auto* output = field<QLineEdit>(q, QStringLiteral("Output"));
        QVERIFY(device && output);
        device->setCurrentIndex(device->findText(QStringLiteral("cpu")));
        checkpoint_ = tmp_.filePath(QStringLiteral("SmolLM2-135M-Instruct-glq-3.5bpw"));
        type_into(output, checkpoint_);
        QCOMPARE(q->outputDir(), checkpoint_);
        const auto options = q->jobOptions();
        QCOMPARE(int(options.bpw_map.size()), g_flow.linears);
        QCOMPARE(options.calibration.nsamples, int64_t(4));  // the Calibration step's settings

        QSignalSpy layers(q, &QuantizeView::layerFinished);
        QSignalSpy done(q, &QuantizeView::runFinished);
        QSignalSpy failed(q, &QuantizeView::runFailed);
        click(q->findChild<QPushButton*>(QStringLiteral("runQuantize")));
        QTRY_VERIFY_WITH_TIMEOUT(done.count() + failed.count() > 0, kJobMs);
        QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.first().at(1).toString()));
        QCOMPARE(done.first().at(0).toString(), checkpoint_);
        QCOMPARE(layers.count(), g_flow.linears);
        // Each linear got the rate the map gave it.
        for (const auto& args : layers)
            QCOMPARE(args.at(1).toInt(), w_->bpwModel()->bpwAt(w_->bpwModel()->rowOf(args.at(0).toString())));
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json"})
            QVERIFY2(QFileInfo::exists(checkpoint_ + QLatin1Char('/') + QLatin1String(f)), f);
        QVERIFY(read_text(checkpoint_ + QStringLiteral("/config.json")).contains(QStringLiteral("quantization_config")));
        QVERIFY(points(q->lossPlot()) >= g_flow.linears * 9 / 10);
        QVERIFY(q->compareButton()->isEnabled());
        stepTime(QStringLiteral("quantize"));
        shoot(MainWindow::QuantizeStep);
    }

    // Compare & chat: "Compare…" loads both; one prompt; both answer.
    void compare() {
        QVERIFY(!checkpoint_.isEmpty());
        goTo(MainWindow::QuantizeStep);
        CompareView* c = w_->compareView();
        ChatPane* left = c->pane(CompareView::Left);
        ChatPane* right = c->pane(CompareView::Right);
        QSignalSpy leftLoaded(left, &ChatPane::modelLoaded);
        QSignalSpy rightLoaded(right, &ChatPane::modelLoaded);
        click(w_->quantizeView()->compareButton());
        QCOMPARE(w_->step(), MainWindow::CompareStep);
        QTRY_VERIFY2_WITH_TIMEOUT(left->isLoaded() && right->isLoaded() && !c->isBusy(), qPrintable(error_texts(w_.get())),
                                  kOpenMs);
        QCOMPARE(leftLoaded.first().at(0).toString(), QFileInfo(g_flow.model).absoluteFilePath());
        QCOMPARE(rightLoaded.first().at(0).toString(), checkpoint_);

        // Greedy and short, so the answers are deterministic and quick.
        auto* temperature = field<QDoubleSpinBox>(c, QStringLiteral("Temperature"));
        auto* maxTokens = field<QSpinBox>(c, QStringLiteral("Max new tokens"));
        QVERIFY(temperature && maxTokens);
        type_into(temperature, QStringLiteral("0"));
        type_into(maxTokens, QStringLiteral("64"));
        QCOMPARE(c->sampling().temperature, 0.0);
        QCOMPARE(c->sampling().max_new_tokens, int64_t(64));
        QPlainTextEdit* prompt = nullptr;
        for (auto* e : c->findChildren<QPlainTextEdit*>())
            if (e->placeholderText().startsWith(QStringLiteral("Ask both models"))) prompt = e;
        QVERIFY(prompt);
        const QString question = QStringLiteral("Give me two tips for writing clear code.");
        prompt->setFocus();
        QTest::keyClicks(prompt, question);
        QSignalSpy leftText(left, &ChatPane::textStreamed);
        QSignalSpy rightText(right, &ChatPane::textStreamed);
        QSignalSpy exchanged(c, &CompareView::exchangeFinished);
        click(with_text<QPushButton>(c, QStringLiteral("Send")));
        QVERIFY2(exchanged.wait(kJobMs) || exchanged.count(), qPrintable(error_texts(w_.get())));
        for (ChatPane* p : {left, right}) {
            QVERIFY2(p->lastReply().finished && !p->lastReply().cancelled, qPrintable(p->lastReply().error));
            QVERIFY(!p->lastReply().text.trimmed().isEmpty());
            QVERIFY(p->transcriptText().contains(question));
            QVERIFY(p->transcriptText().contains(p->lastReply().text.trimmed().left(20)));
            QVERIFY(p->lastReply().stats.decode_tokens_per_second > 0);
            QVERIFY(!p->statsText().isEmpty());
        }
        QVERIFY(leftText.count() > 1 && rightText.count() > 1);  // streamed, token by token
        QCOMPARE(c->turns().size(), 1);
        qInfo("original: %s", qPrintable(left->lastReply().text.simplified()));
        qInfo("quantized: %s", qPrintable(right->lastReply().text.simplified()));

        // Perplexity of both on a little held-out text, and their ratio.
        QLineEdit* pplFile = nullptr;
        for (auto* e : c->findChildren<QLineEdit*>())
            if (e->placeholderText().startsWith(QStringLiteral("a UTF-8 text file"))) pplFile = e;
        auto* pplWindow = field<QSpinBox>(c, QStringLiteral("Window"));
        auto* pplWindows = field<QSpinBox>(c, QStringLiteral("Windows"));
        QVERIFY(pplFile && pplWindow && pplWindows);
        type_into(pplFile, wikitext());
        type_into(pplWindow, QStringLiteral("128"));
        type_into(pplWindows, QStringLiteral("4"));
        QSignalSpy ppl(c, &CompareView::perplexityFinished);
        click(with_text<QPushButton>(c, QStringLiteral("Perplexity")));
        QVERIFY2(ppl.wait(kJobMs) || ppl.count(), qPrintable(error_texts(w_.get())));
        for (ChatPane* p : {left, right}) {
            QVERIFY(p->lastPerplexity().has_value());
            QCOMPARE(p->lastPerplexity()->windows, int64_t(4));
            QVERIFY(p->lastPerplexity()->perplexity > 1);
        }
        // 3.5 bpw costs a little: worse than the original, but not broken.
        const double ratio = right->lastPerplexity()->perplexity / left->lastPerplexity()->perplexity;
        qInfo("perplexity: original %.3f, quantized %.3f, ratio %.4f", left->lastPerplexity()->perplexity,
              right->lastPerplexity()->perplexity, ratio);
        QVERIFY2(ratio > g_flow.min_ppl_ratio && ratio < g_flow.max_ppl_ratio, qPrintable(QString::number(ratio)));
        QVERIFY(c->perplexityText().contains(QStringLiteral("ratio")));
        stepTime(QStringLiteral("compare (load, one prompt, perplexity)"));
        shoot(MainWindow::CompareStep);
    }

    // Export: from the Quantize step's "Export…", with perplexity for the card.
    void exportModel() {
        QVERIFY(!checkpoint_.isEmpty());
        goTo(MainWindow::QuantizeStep);
        click(w_->quantizeView()->exportButton());
        QCOMPARE(w_->step(), MainWindow::ExportStep);
        ExportView* e = w_->exportView();
        QCOMPARE(e->checkpointDir(), checkpoint_);
        QCOMPARE(e->outputDir(), checkpoint_ + QStringLiteral("-hf"));  // suggested
        QGroupBox* ppl = nullptr;
        for (auto* g : e->findChildren<QGroupBox*>())
            if (g->title() == QStringLiteral("Measure perplexity for the model card")) ppl = g;
        QVERIFY(ppl && ppl->isCheckable());
        ppl->setChecked(true);  // the group's check box
        auto* text = field<QLineEdit>(e, QStringLiteral("Text"));
        auto* window = field<QSpinBox>(e, QStringLiteral("Window"));
        auto* most = field<QSpinBox>(e, QStringLiteral("At most"));
        QVERIFY(text && window && most);
        type_into(text, wikitext());
        type_into(window, QStringLiteral("128"));
        type_into(most, QStringLiteral("2"));
        auto* ofSource = with_text<QCheckBox>(e, QStringLiteral("also the source (unquantized) model, for comparison"));
        click(ofSource);
        QVERIFY(ofSource->isChecked());

        QSignalSpy done(e, &ExportView::exportFinished);
        QSignalSpy failed(e, &ExportView::exportFailed);
        click(e->findChild<QPushButton*>(QStringLiteral("runExport")));
        QTRY_VERIFY_WITH_TIMEOUT(done.count() + failed.count() > 0, kJobMs);
        QVERIFY2(failed.isEmpty(), qPrintable(failed.isEmpty() ? QString() : failed.first().at(1).toString()));
        const QString out = checkpoint_ + QStringLiteral("-hf");
        QCOMPARE(done.first().at(0).toString(), out);
        for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "README.md"})
            QVERIFY2(QFileInfo::exists(out + QLatin1Char('/') + QLatin1String(f)), f);
        // The card records the map, the calibration and the perplexity.
        const QString card = read_text(out + QStringLiteral("/README.md"));
        QCOMPARE(e->modelCard(), card);
        const QString someLayer = QString::fromStdString(w_->bpwModel()->layers()[7].name);
        QVERIFY2(card.contains(QStringLiteral("| %1 | %2 |").arg(someLayer).arg(w_->bpwModel()->bpwAt(7))), qPrintable(card));
        QVERIFY2(card.contains(QStringLiteral("4 x 128 tokens (seed 1)")), qPrintable(card));
        QVERIFY2(card.contains(QStringLiteral("wiki.test.raw")) && card.contains(QStringLiteral("| 2 x 128 |")), qPrintable(card));
        const QString pplSection = card.mid(card.indexOf(QStringLiteral("## Perplexity")), 600);
        QVERIFY2(card.contains(QStringLiteral("| this checkpoint | ")) && card.contains(QStringLiteral("| source (unquantized) | ")),
                 qPrintable(pplSection));
        QCOMPARE(error_dialogs(w_.get()).size(), 0);
        stepTime(QStringLiteral("export"));
        shoot(MainWindow::ExportStep);
    }

private:
    // Clicks the step's entry in the sidebar.
    void goTo(MainWindow::Step step) {
        QListWidget* sidebar = nullptr;
        for (auto* l : w_->findChildren<QListWidget*>())
            if (l->count() == MainWindow::StepCount && l->item(0)->text() == MainWindow::stepTitle(MainWindow::ModelStep)) sidebar = l;
        QVERIFY(sidebar);
        QListWidgetItem* item = sidebar->item(step);
        QTest::mouseClick(sidebar->viewport(), Qt::LeftButton, {}, sidebar->visualItemRect(item).center());
        QCOMPARE(w_->step(), step);
    }

    // The whole window at kShotSize with `step` showing, as
    // "<n>-<step title>.png" (the names docs/screenshots uses).
    void shoot(MainWindow::Step step) {
        goTo(step);
        w_->resize(kShotSize);
        QApplication::processEvents();
        for (auto* p : w_->stepWidget(step)->findChildren<QCustomPlot*>()) p->replot(QCustomPlot::rpImmediateRefresh);
        QTest::qWait(200);  // layouts and plots settle
        QString name = MainWindow::stepTitle(step).toLower();
        name.replace(QLatin1String(" & "), QLatin1String("-")).replace(QLatin1Char(' '), QLatin1Char('-'));
        const QString path = QDir(shots_).filePath(QStringLiteral("%1-%2.png").arg(int(step) + 1).arg(name));
        const QPixmap shot = w_->grab();
        QCOMPARE(shot.size(), kShotSize);
        QVERIFY2(shot.save(path), qPrintable(path));
        qInfo("screenshot %s", qPrintable(path));
    }

    void stepTime(const QString& what) {
        qInfo("%s: %.1f s (%.1f s since the start)", qPrintable(what), step_.restart() / 1000.0, total_.elapsed() / 1000.0);
    }

    QTemporaryDir tmp_;
    QString shots_;
    QString checkpoint_;
    std::unique_ptr<MainWindow> w_;
    QElapsedTimer total_;
    QElapsedTimer step_;
};

int main(int argc, char** argv) {
    // Qt's own file dialog, so the test can drive it (a platform theme's
    // native dialog would be out of reach).
    QCoreApplication::setAttribute(Qt::AA_DontUseNativeDialogs);
    glq::session::configure_compute_threads();
    QApplication app(argc, argv);
    const QString which = qEnvironmentVariable("GLQ_E2E_MODEL", QStringLiteral("tiny"));
    QTemporaryDir tiny_dir;
    if (which == QStringLiteral("demo")) {
        g_flow.demo = true;
        g_flow.model = demo_model();
        g_flow.linears = 30 * 7;
        if (!QFileInfo::exists(demo_model() + QStringLiteral("/config.json"))) {
            std::fprintf(stderr, "skipped: the demo model is missing (GLQ_DEMO_MODEL=%s; installer/setup.sh imports it)\n",
                         qPrintable(demo_model()));
            return 77;
        }
    } else if (which == QStringLiteral("tiny")) {
        // Written before the window exists: its folder dialog opens it.
        const std::filesystem::path dir = std::filesystem::path(tiny_dir.path().toStdString()) / "stories260K-padded";
        try {
            glq::test::make_padded_stories(glq::ui::test::shared_data().toStdString(), dir);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "FAIL: cannot write the tiny model: %s\n", e.what());
            return 1;
        }
        g_flow.model = QString::fromStdString(dir.string());
        g_flow.linears = 5 * 7;
        // A 260K-parameter model has little redundancy: 3.5 bpw costs it more
        // than the demo, and 4 windows of 128 tokens make a coarse estimate.
        g_flow.max_ppl_ratio = 3.0;
    } else {
        std::fprintf(stderr, "FAIL: GLQ_E2E_MODEL must be tiny or demo, got %s\n", qPrintable(which));
        return 1;
    }
    std::fprintf(stderr, "flow: %s (%s)\n", qPrintable(which), qPrintable(g_flow.model));
    // The demo's profile can take 5 minutes on a busy 2-core machine: Qt
    // Test's own per-function limit (5 minutes) must not cut it; the waits
    // above and CTest's TIMEOUT bound it instead.
    if (qEnvironmentVariableIsEmpty("QTEST_FUNCTION_TIMEOUT")) qputenv("QTEST_FUNCTION_TIMEOUT", "900000");
    TestE2eFlow test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "test_e2e_flow.moc"
