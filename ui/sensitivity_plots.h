#pragma once
// The sensitivity plots, drawn from the bpw map model (its layers carry the
// measured proxy losses, its map the chosen rates), so they follow every
// edit, undo and allocation live:
//   - bars: one per layer in checkpoint order, coloured by module type
//     (q k v o gate up down), showing the sensitivity (loss at the lowest
//     measured bpw) or the predicted loss at the chosen bpw;
//   - heatmap: transformer block × module type, log10 of the same value,
//     crisp cells (no interpolation);
//   - loss vs bpw: the predicted/measured curve of each selected layer, with
//     the chosen rate marked.
// All three show one metric, picked in the "Metric:" box: the proxy loss
// tr(ΔW H ΔWᵀ)/m (output units²) or the relative error, that loss over the
// layer's tr(W H Wᵀ)/m (dimensionless: layers of different output scale
// compare directly). Tables of version 1 have no relative errors; the plots
// then say so instead of drawing nothing silently.
// Hovering shows exact values; clicking a bar or a cell emits layerClicked.

#include <QColor>
#include <QList>
#include <QWidget>

#include "ui/model_summary.h"
#include "ui/sensitivity_table.h"

class QComboBox;
class QCustomPlot;
class QCPColorMap;
class QCPColorScale;
class QSettings;

namespace glq::ui {

class BpwMapModel;
class PlotPanel;

QColor module_color(ModuleType type);

class SensitivityPlots : public QWidget {
    Q_OBJECT
public:
    enum class BarValue { Sensitivity, PredictedAtChosenBpw };
    enum class Metric { ProxyLoss, RelativeError };
    // Full: bars on top, heatmap and curves side by side below (a wide view).
    // Compact: bars above curves, no heatmap (beside the bpw table).
    enum class Layout { Full, Compact };

    explicit SensitivityPlots(BpwMapModel* model, Layout layout = Layout::Full, QWidget* parent = nullptr);

    PlotPanel* barsPanel() const { return bars_; }
    PlotPanel* heatmapPanel() const { return heatmap_; }
    PlotPanel* curvesPanel() const { return curves_; }
    QList<int> selectedRows() const { return selected_; }
    void setBarValue(BarValue value);
    BarValue barValueMode() const { return barValue_; }
    void setMetric(Metric metric);
    Metric metric() const { return metric_; }
    QComboBox* metricBox() const { return metricBox_; }
    // The plotted value of `row` in the bars and the heatmap (metric and bar
    // mode applied); NaN when unknown.
    double barValue(int row) const;

    // The metric and the bar mode, under `group` (e.g. "calibration/plots").
    void saveSettings(QSettings& s, const QString& group) const;
    void loadSettings(QSettings& s, const QString& group);

    // What a hover at a plot position would show; used by the tooltips.
    QString barTooltip(int row) const;

public slots:
    void setSelectedRows(const QList<int>& rows);
    void refresh();

signals:
    void layerClicked(int row);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    double metricAt(const LayerSensitivity& layer, int bpw) const;  // the metric, measured or predicted
    QString metricAxisLabel() const;
    bool metricMissing() const;  // relative error picked, but the table has none
    void showMissingHint(QCustomPlot* p) const;
    QString barAxisLabel() const;
    void drawBars();
    void drawHeatmap();
    void drawCurves();
    int barRowAt(const QPointF& pos) const;
    int heatmapRowAt(const QPointF& pos) const;
    QString barsCsv() const;
    QString heatmapCsv() const;
    QString curvesCsv() const;

    BpwMapModel* model_;
    PlotPanel* bars_;
    PlotPanel* heatmap_;
    PlotPanel* curves_;
    QComboBox* barMode_;
    QComboBox* metricBox_;
    QCPColorMap* colorMap_ = nullptr;
    QCPColorScale* colorScale_ = nullptr;
    QList<int> selected_;
    BarValue barValue_ = BarValue::Sensitivity;
    Metric metric_ = Metric::ProxyLoss;
};

} // namespace glq::ui
