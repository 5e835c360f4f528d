// SensitivityPlots' metric switch (proxy loss / relative error): the combo box
// changes the numbers the bars, the heatmap and the curves draw, their labels
// and units, the hint for a table without relative errors, and the saved
// view settings; plus the GUI's reader of the relative errors (version 2) and
// of version-1 files. Every expected number is worked out in the comments.

#include <QDoubleSpinBox>
#include <QSettings>
#include <QSignalSpy>
#include <QtTest>
#include <cmath>
#include <map>
#include <qcustomplot.h>

#include "core/common/error.h"
#include "ui/bpw_map_model.h"
#include "ui/bpw_map_view.h"
#include "ui/calibration_view.h"
#include "ui/model_summary.h"
#include "ui/plot_panel.h"
#include "ui/sensitivity_plots.h"
#include "ui/sensitivity_table.h"
#include "ui/worker.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

const std::string Q = "model.layers.0.self_attn.q_proj";
const std::string D = "model.layers.0.mlp.down_proj";

// q_proj: losses 0.8 / 0.2 / 0.05 at 2 / 3 / 4 bpw, relative errors 0.1 and
//   0.025 at 2 and 3 bpw (tr(W H Wᵀ)/m = 0.8 / 0.1 = 8), none at 4: the
//   predicted one there is 0.05 / 8 = 0.00625.
// down_proj: loss 4.0 at 2 bpw only, relative error 0.5 (signal 8 too);
//   at 4 bpw the loss is predicted as 4 · 4⁻² = 0.25, its relative error
//   0.25 / 8 = 0.03125.
std::vector<LayerSensitivity> two_layers(bool with_relative) {
    LayerSensitivity q, d;
    q.name = Q, q.rows = 8, q.cols = 16;
    q.set_loss(2, 0.8), q.set_loss(3, 0.2), q.set_loss(4, 0.05);
    d.name = D, d.rows = 16, d.cols = 8;
    d.set_loss(2, 4.0);
    if (with_relative) {
        q.set_relative_error(2, 0.1), q.set_relative_error(3, 0.025);
        d.set_relative_error(2, 0.5);
    }
    return {q, d};
}

// row -> height of every bar the bars panel draws (the "selected" outline
// bars are left out: they repeat a value).
std::map<int, double> bar_heights(SensitivityPlots* plots) {
    std::map<int, double> out;
    QCustomPlot* p = plots->barsPanel()->plot();
    for (int i = 0; i < p->plottableCount(); ++i) {
        auto* bars = qobject_cast<QCPBars*>(p->plottable(i));
        if (!bars || bars->name() == QStringLiteral("selected")) continue;
        for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
            out[static_cast<int>(it->key)] = it->value;
    }
    return out;
}

// The heatmap's log10 value for block 0 and module `type`.
double heat_cell(SensitivityPlots* plots, ModuleType type) {
    QCustomPlot* p = plots->heatmapPanel()->plot();
    for (int i = 0; i < p->plottableCount(); ++i)
        if (auto* map = qobject_cast<QCPColorMap*>(p->plottable(i)))
            return map->data()->cell(static_cast<int>(quantized_module_types().indexOf(type)), 0);
    return std::numeric_limits<double>::quiet_NaN();
}

// bpw -> value of the first curve (the first selected layer).
std::map<int, double> first_curve(SensitivityPlots* plots) {
    std::map<int, double> out;
    QCustomPlot* p = plots->curvesPanel()->plot();
    if (p->graphCount() == 0) return out;
    for (auto it = p->graph(0)->data()->constBegin(); it != p->graph(0)->data()->constEnd(); ++it)
        out[static_cast<int>(it->key)] = it->value;
    return out;
}

bool has_missing_hint(QCustomPlot* p) {
    for (int i = 0; i < p->itemCount(); ++i)
        if (p->item(i)->objectName() == QStringLiteral("missingMetricHint")) return true;
    return false;
}

template <typename Fn>
void expect_error(Fn fn, const QString& part) {
    try {
        fn();
    } catch (const glq::Error& e) {
        const QString what = QString::fromStdString(e.what());
        QVERIFY2(what.contains(part), qPrintable(QStringLiteral("'%1' lacks '%2'").arg(what, part)));
        return;
    }
    QFAIL("no glq::Error thrown");
}

} // namespace

class TestSensitivityPlots : public QObject {
    Q_OBJECT
private slots:
    void metricBoxSwitchesThePlottedData() {
        BpwMapModel model;
        model.setLayers(two_layers(true), 4);
        SensitivityPlots plots(&model);
        plots.resize(900, 700);
        plots.setSelectedRows({0});
        QCOMPARE(plots.metric(), SensitivityPlots::Metric::ProxyLoss);
        QComboBox* box = plots.findChild<QComboBox*>(QStringLiteral("sensitivityMetric"));
        QVERIFY(box);
        QCOMPARE(box, plots.metricBox());
        QCOMPARE(box->count(), 2);

        // Proxy loss: bars at the lowest measured bpw (2), curves at 2..8.
        auto bars = bar_heights(&plots);
        QCOMPARE(bars.size(), size_t(2));
        QCOMPARE(bars[0], 0.8);
        QCOMPARE(bars[1], 4.0);
        QCOMPARE(heat_cell(&plots, ModuleType::Down), std::log10(4.0));
        QVERIFY(plots.barsPanel()->plot()->yAxis->label().contains(QStringLiteral("output units²")));
        QVERIFY(plots.curvesPanel()->plot()->yAxis->label().startsWith(QStringLiteral("proxy loss")));
        auto curve = first_curve(&plots);
        QCOMPARE(curve[4], 0.05);

        // The user picks the relative error in the box.
        box->setCurrentIndex(1);
        QCOMPARE(plots.metric(), SensitivityPlots::Metric::RelativeError);
        bars = bar_heights(&plots);
        QCOMPARE(bars.size(), size_t(2));
        QCOMPARE(bars[0], 0.1);
        QCOMPARE(bars[1], 0.5);
        QCOMPARE(heat_cell(&plots, ModuleType::Down), std::log10(0.5));
        QCOMPARE(heat_cell(&plots, ModuleType::Q), std::log10(0.1));
        QVERIFY(plots.barsPanel()->plot()->yAxis->label().contains(QStringLiteral("relative error")));
        QVERIFY(plots.barsPanel()->plot()->yAxis->label().contains(QStringLiteral("dimensionless")));
        QVERIFY(plots.curvesPanel()->plot()->yAxis->label().startsWith(QStringLiteral("relative error")));
        curve = first_curve(&plots);
        QCOMPARE(curve[2], 0.1);
        QCOMPARE(curve[3], 0.025);
        QCOMPARE(curve[4], 0.00625);  // predicted: 0.05 / 8
        // Bars at the chosen bpw (4 for both): the predicted relative errors.
        plots.setBarValue(SensitivityPlots::BarValue::PredictedAtChosenBpw);
        bars = bar_heights(&plots);
        QCOMPARE(bars[0], 0.00625);
        QCOMPARE(bars[1], 0.03125);
        QVERIFY(plots.barsPanel()->plot()->yAxis->label().contains(QStringLiteral("chosen bpw")));
        QVERIFY(!has_missing_hint(plots.barsPanel()->plot()));
        // The heatmap's CSV names what it exports; the curves' carries both.
        QVERIFY(plots.heatmapPanel()->csv().contains(QStringLiteral(",relative_error\n")));
        QVERIFY(plots.curvesPanel()->csv().contains(
            QStringLiteral("model.layers.0.self_attn.q_proj,4,0.05,1,1,0.00625,0\n")));
        QVERIFY(plots.barTooltip(0).contains(QStringLiteral("relative error: 0.1 at 2 bpw, 0.00625 at the chosen bpw")));

        // Back to the proxy loss from code: the box follows, the data returns.
        plots.setMetric(SensitivityPlots::Metric::ProxyLoss);
        QCOMPARE(box->currentIndex(), 0);
        bars = bar_heights(&plots);
        QCOMPARE(bars[0], 0.05);  // still at the chosen bpw
        QCOMPARE(bars[1], 0.25);
        QCOMPARE(first_curve(&plots)[4], 0.05);
    }

    void tableWithoutRelativeErrorsSaysSo() {
        // A version-1 table, loaded the way the main window does.
        BpwMapModel model;
        LayerSensitivity q, d;
        q.name = Q, q.rows = 8, q.cols = 16;
        d.name = D, d.rows = 16, d.cols = 8;
        model.setLayers(std::vector<LayerSensitivity>{q, d}, 4);
        const SensitivityTable v1 = SensitivityTable::from_json_text(
            R"({"format": "glq-sensitivity", "version": 1, "layers": [
                {"name": "model.layers.0.self_attn.q_proj", "rows": 8, "cols": 16, "proxy_loss": {"2": 0.8}}]})",
            "v1.json");
        model.applySensitivity(v1);
        SensitivityPlots plots(&model);
        plots.setSelectedRows({0});
        QCOMPARE(bar_heights(&plots)[0], 0.8);
        QVERIFY(!has_missing_hint(plots.barsPanel()->plot()));
        plots.setMetric(SensitivityPlots::Metric::RelativeError);
        QVERIFY(bar_heights(&plots).empty());
        QVERIFY(first_curve(&plots).empty());
        QVERIFY(has_missing_hint(plots.barsPanel()->plot()));
        QVERIFY(has_missing_hint(plots.heatmapPanel()->plot()));
        QVERIFY(has_missing_hint(plots.curvesPanel()->plot()));
        // A version-2 table brings them in: the hint goes.
        SensitivityTable v2 = v1;
        v2.layers[0].set_relative_error(2, 0.1);
        model.applySensitivity(v2);
        QCOMPARE(bar_heights(&plots)[0], 0.1);
        QVERIFY(!has_missing_hint(plots.barsPanel()->plot()));
    }

    void calibrationViewSavesThePlotSettings() {
        QTemporaryDir dir;
        const QString ini = dir.filePath(QStringLiteral("settings.ini"));
        BpwMapModel model;
        model.setLayers(two_layers(true), 4);
        Worker worker;
        {
            CalibrationView view(&model, &worker);
            view.plots()->metricBox()->setCurrentIndex(1);
            view.plots()->setBarValue(SensitivityPlots::BarValue::PredictedAtChosenBpw);
            QSettings s(ini, QSettings::IniFormat);
            view.saveSettings(s);
        }
        CalibrationView again(&model, &worker);
        QCOMPARE(again.plots()->metric(), SensitivityPlots::Metric::ProxyLoss);  // the default before loading
        QSettings s(ini, QSettings::IniFormat);
        QCOMPARE(s.value(QStringLiteral("calibration/plots/metric")).toString(), QStringLiteral("relative_error"));
        again.loadSettings(s);
        QCOMPARE(again.plots()->metric(), SensitivityPlots::Metric::RelativeError);
        QCOMPARE(again.plots()->metricBox()->currentIndex(), 1);
        QCOMPARE(again.plots()->barValueMode(), SensitivityPlots::BarValue::PredictedAtChosenBpw);
        QCOMPARE(bar_heights(again.plots())[1], 0.03125);
        // An unknown word (a hand-edited file) falls back to the proxy loss.
        s.setValue(QStringLiteral("calibration/plots/metric"), QStringLiteral("bogus"));
        again.loadSettings(s);
        QCOMPARE(again.plots()->metric(), SensitivityPlots::Metric::ProxyLoss);
    }

    void bpwMapViewSavesItsSettings() {
        QTemporaryDir dir;
        const QString ini = dir.filePath(QStringLiteral("settings.ini"));
        BpwMapModel model;
        model.setLayers(two_layers(true), 4);
        {
            BpwMapView view(&model);
            view.plots()->metricBox()->setCurrentIndex(1);
            view.findChild<QDoubleSpinBox*>()->setValue(3.5);
            QSettings s(ini, QSettings::IniFormat);
            view.saveSettings(s);
        }
        QSettings s(ini, QSettings::IniFormat);
        QCOMPARE(s.value(QStringLiteral("bpwMap/plots/metric")).toString(), QStringLiteral("relative_error"));
        QCOMPARE(s.value(QStringLiteral("bpwMap/target")).toDouble(), 3.5);
        BpwMapView again(&model);
        QCOMPARE(again.plots()->metric(), SensitivityPlots::Metric::ProxyLoss);  // the default before loading
        again.loadSettings(s);
        QCOMPARE(again.plots()->metric(), SensitivityPlots::Metric::RelativeError);
        QCOMPARE(again.findChild<QDoubleSpinBox*>()->value(), 3.5);
        // Out of range in a hand-edited file: clamped by the spin box.
        s.setValue(QStringLiteral("bpwMap/target"), 12.0);
        again.loadSettings(s);
        QCOMPARE(again.findChild<QDoubleSpinBox*>()->value(), 8.0);
    }

    void readerRoundTripsRelativeErrors() {
        SensitivityTable t;
        t.model = "m";
        auto layers = two_layers(true);
        t.layers = {layers[0], layers[1]};
        const std::string text = t.to_json_text();
        QVERIFY(QString::fromStdString(text).contains(QStringLiteral("\"version\": 2")));
        const SensitivityTable back = SensitivityTable::from_json_text(text, "t.json");
        QVERIFY(back.has_relative_errors());
        const LayerSensitivity* q = back.find(Q);
        QVERIFY(q);
        QCOMPARE(q->relative_error_at(2), 0.1);
        QCOMPARE(q->relative_error_at(3), 0.025);
        QVERIFY(!q->has_relative_error(4));
        QCOMPARE(q->loss(4), 0.05);
        // Without relative errors: no key written, none read.
        SensitivityTable plain;
        plain.layers = two_layers(false);
        QVERIFY(plain.to_json_text().find("relative_error") == std::string::npos);
        QVERIFY(!SensitivityTable::from_json_text(plain.to_json_text(), "p.json").has_relative_errors());
        // The sample table the other ui tests use is version 1.
        const SensitivityTable sample =
            SensitivityTable::load((glq::ui::test::ui_test_data() + QStringLiteral("/stories260K.sensitivity.json")).toStdString());
        QVERIFY(!sample.layers.empty());
        QVERIFY(!sample.has_relative_errors());
    }

    void readerRefusesBadRelativeErrors() {
        const std::string head = R"({"format": "glq-sensitivity", "version": 2, "layers": [{"name": "a", "rows": 8, "cols": 8, )";
        expect_error([&] { SensitivityTable::from_json_text(head + R"("proxy_loss": {"2": 1}, "relative_error": [1]}]})", "s.json"); },
                     QStringLiteral("\"relative_error\" must map bpw"));
        expect_error([&] { SensitivityTable::from_json_text(head + R"("proxy_loss": {"2": 1}, "relative_error": {"2": -1}}]})", "s.json"); },
                     QStringLiteral("relative error at 2 bpw must be a finite number >= 0"));
        expect_error([&] { SensitivityTable::from_json_text(head + R"("proxy_loss": {"2": 1}, "relative_error": {"5": 0.1}}]})", "s.json"); },
                     QStringLiteral("relative error at 5 bpw has no proxy loss at that rate"));
        expect_error([] { SensitivityTable::from_json_text(R"({"format": "glq-sensitivity", "version": 3, "layers": []})", "s.json"); },
                     QStringLiteral("reads versions 1 and 2"));
    }
};

GLQ_QTEST_MAIN(TestSensitivityPlots)
#include "test_sensitivity_plots.moc"
