#include "ui/sensitivity_plots.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QSettings>
#include <QSignalBlocker>
#include <QSplitter>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <map>
#include <qcustomplot.h>

#include "core/plan/budget.h"
#include "ui/bpw_map_model.h"
#include "ui/plot_panel.h"

namespace glq::ui {

QColor module_color(ModuleType type) {
    // Tableau-10: distinct for the seven types, readable on white.
    switch (type) {
    case ModuleType::Q: return QColor(0x1f, 0x77, 0xb4);
    case ModuleType::K: return QColor(0xff, 0x7f, 0x0e);
    case ModuleType::V: return QColor(0x2c, 0xa0, 0x2c);
    case ModuleType::O: return QColor(0xd6, 0x27, 0x28);
    case ModuleType::Gate: return QColor(0x94, 0x67, 0xbd);
    case ModuleType::Up: return QColor(0x8c, 0x56, 0x4b);
    case ModuleType::Down: return QColor(0xe3, 0x77, 0xc2);
    case ModuleType::Other: break;
    }
    return QColor(0x7f, 0x7f, 0x7f);
}

namespace {

// The proxy loss tr(ΔW H ΔWᵀ)/m is in the squared units of the layer's output
// (H = Σ xᵀx over the calibration tokens); the axes say so, and the tooltips
// give the formula.
// The log scale shows in the tick labels (10⁻³, 10⁻²…); the labels stay short
// enough for the height of a small panel.
const QString kLossUnits = QStringLiteral("output units²");
// The relative error is a ratio of two such losses: no unit.
const QString kRelativeUnits = QStringLiteral("dimensionless");

// A legend in its own row above the axes, entries side by side: it never
// covers data, however tall the bars or dense the points are.
void legend_above_axes(QCustomPlot* p) {
    if (p->plotLayout()->rowCount() > 1) return;  // already moved
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(0, 0.001);  // as tall as its text, no more
    p->plotLayout()->setRowSpacing(0);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(16);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
}

QString row_name(const BpwMapModel* m, int row) { return QString::fromStdString(m->layers()[static_cast<size_t>(row)].name); }

int lowest_measured_bpw(const LayerSensitivity& l) {
    for (int b = kMinBpw; b <= kMaxBpw; ++b)
        if (l.measured(b)) return b;
    return -1;
}

double lowest_measured_loss(const LayerSensitivity& l) {
    const int b = lowest_measured_bpw(l);
    return b < 0 ? std::numeric_limits<double>::quiet_NaN() : l.loss(b);
}

// Settings values: words, not enum numbers, so reordering the box keeps them.
QString metric_key(SensitivityPlots::Metric m) {
    return m == SensitivityPlots::Metric::ProxyLoss ? QStringLiteral("proxy_loss") : QStringLiteral("relative_error");
}

void style_axes(QCustomPlot* p) {
    QFont f = p->font();
    f.setPointSizeF(std::max(8.0, f.pointSizeF()));
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        a->setLabelFont(f);
        a->setTickLabelFont(f);
    }
}

} // namespace

SensitivityPlots::SensitivityPlots(BpwMapModel* model, Layout arrangement, QWidget* parent)
    : QWidget(parent), model_(model) {
    bars_ = new PlotPanel(tr("Sensitivity per layer"));
    heatmap_ = new PlotPanel(tr("Sensitivity heatmap"));
    curves_ = new PlotPanel(tr("Proxy loss vs bpw"));

    barMode_ = new QComboBox;
    barMode_->setObjectName(QStringLiteral("sensitivityBarMode"));
    barMode_->addItem(tr("Sensitivity (value at lowest measured bpw)"));
    barMode_->addItem(tr("Predicted value at the chosen bpw"));
    connect(barMode_, &QComboBox::currentIndexChanged, this, [this](int i) {
        setBarValue(i == 0 ? BarValue::Sensitivity : BarValue::PredictedAtChosenBpw);
    });
    metricBox_ = new QComboBox;
    metricBox_->setObjectName(QStringLiteral("sensitivityMetric"));
    // Short items: the box sits beside the bpw table too; the formulas are
    // in the tooltip and the units on the axes.
    metricBox_->addItem(tr("Proxy loss"));
    metricBox_->addItem(tr("Relative error"));
    metricBox_->setToolTip(tr("Proxy loss tr(ΔW H ΔWᵀ)/m: in the layer's output units², what the allocator "
                              "minimises.\nRelative error: the same loss over the layer's own tr(W H Wᵀ)/m, "
                              "dimensionless, so layers of different output scale compare directly."));
    connect(metricBox_, &QComboBox::currentIndexChanged, this, [this](int i) {
        setMetric(i == 0 ? Metric::ProxyLoss : Metric::RelativeError);
    });

    // Both boxes may shrink (their text elided, the full text in the popup):
    // beside the bpw table they must not push the table aside.
    for (QComboBox* box : {metricBox_, barMode_}) {
        box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        box->setMinimumContentsLength(10);
    }

    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    auto* modeRow = new QHBoxLayout;
    modeRow->addWidget(new QLabel(tr("Metric:")));
    modeRow->addWidget(metricBox_);
    modeRow->addSpacing(12);
    modeRow->addWidget(new QLabel(tr("Bars show:")));
    modeRow->addWidget(barMode_);
    modeRow->addStretch(1);
    topLayout->addLayout(modeRow);
    topLayout->addWidget(bars_, 1);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    if (arrangement == Layout::Full) {
        auto* bottom = new QSplitter(Qt::Horizontal);
        bottom->addWidget(heatmap_);
        bottom->addWidget(curves_);
        split->addWidget(bottom);
    } else {
        split->addWidget(curves_);
        heatmap_->hide();
    }
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    for (PlotPanel* p : {bars_, heatmap_, curves_}) {
        style_axes(p->plot());
        p->setToolTip(tr("Proxy loss = tr(ΔW H ΔWᵀ)/m: the layer's quantization error weighted by its calibration "
                         "Hessian H = Σ xᵀx. Relative error = proxy loss / (tr(W H Wᵀ)/m)."));
        p->plot()->installEventFilter(this);
        p->plot()->setToolTip(QString());  // tooltips come from eventFilter
    }
    bars_->setCsvProvider([this] { return barsCsv(); });
    heatmap_->setCsvProvider([this] { return heatmapCsv(); });
    curves_->setCsvProvider([this] { return curvesCsv(); });

    connect(bars_->plot(), &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        const int row = barRowAt(e->position());
        if (row >= 0) emit layerClicked(row);
    });
    connect(heatmap_->plot(), &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        const int row = heatmapRowAt(e->position());
        if (row >= 0) emit layerClicked(row);
    });
    connect(model_, &BpwMapModel::mapChanged, this, &SensitivityPlots::refresh);
    connect(model_, &QAbstractItemModel::modelReset, this, [this] {
        selected_.clear();
        refresh();
    });
    refresh();
}

void SensitivityPlots::setBarValue(BarValue value) {
    barValue_ = value;
    if (barMode_->currentIndex() != (value == BarValue::Sensitivity ? 0 : 1))
        barMode_->setCurrentIndex(value == BarValue::Sensitivity ? 0 : 1);
    drawBars();
    drawHeatmap();
}

void SensitivityPlots::setMetric(Metric metric) {
    metric_ = metric;
    const int index = metric == Metric::ProxyLoss ? 0 : 1;
    if (metricBox_->currentIndex() != index) {
        const QSignalBlocker quiet(metricBox_);  // one redraw, not two
        metricBox_->setCurrentIndex(index);
    }
    curves_->setTitle(metric == Metric::ProxyLoss ? tr("Proxy loss vs bpw") : tr("Relative error vs bpw"));
    refresh();
}

void SensitivityPlots::saveSettings(QSettings& s, const QString& group) const {
    s.setValue(group + QStringLiteral("/metric"), metric_key(metric_));
    s.setValue(group + QStringLiteral("/bars"),
               barValue_ == BarValue::Sensitivity ? QStringLiteral("sensitivity") : QStringLiteral("chosen_bpw"));
}

void SensitivityPlots::loadSettings(QSettings& s, const QString& group) {
    // Unknown words (a hand-edited file) fall back to the defaults.
    const QString m = s.value(group + QStringLiteral("/metric")).toString();
    setMetric(m == metric_key(Metric::RelativeError) ? Metric::RelativeError : Metric::ProxyLoss);
    const QString b = s.value(group + QStringLiteral("/bars")).toString();
    setBarValue(b == QStringLiteral("chosen_bpw") ? BarValue::PredictedAtChosenBpw : BarValue::Sensitivity);
}

double SensitivityPlots::metricAt(const LayerSensitivity& layer, int bpw) const {
    return metric_ == Metric::ProxyLoss ? plan::predicted_loss(layer, bpw) : plan::predicted_relative_error(layer, bpw);
}

QString SensitivityPlots::metricAxisLabel() const {
    return metric_ == Metric::ProxyLoss ? tr("proxy loss (%1)").arg(kLossUnits)
                                        : tr("relative error (%1)").arg(kRelativeUnits);
}

bool SensitivityPlots::metricMissing() const {
    if (metric_ != Metric::RelativeError) return false;
    for (const auto& l : model_->layers())
        for (int b = kMinBpw; b <= kMaxBpw; ++b)
            if (l.has_relative_error(b)) return false;
    // Nothing measured at all is the plain empty state, not this one.
    return std::any_of(model_->layers().begin(), model_->layers().end(),
                       [](const LayerSensitivity& l) { return lowest_measured_bpw(l) >= 0; });
}

void SensitivityPlots::showMissingHint(QCustomPlot* p) const {
    auto* hint = new QCPItemText(p);
    hint->setObjectName(QStringLiteral("missingMetricHint"));
    hint->position->setType(QCPItemPosition::ptAxisRectRatio);
    hint->position->setCoords(0.5, 0.5);
    hint->setText(tr("This sensitivity table has no relative errors\n(written before they were recorded): "
                     "profile again to get them"));
    hint->setColor(Qt::darkGray);
}

void SensitivityPlots::setSelectedRows(const QList<int>& rows) {
    selected_.clear();
    for (int r : rows)
        if (r >= 0 && r < model_->rowCount() && !selected_.contains(r)) selected_ << r;
    drawBars();
    drawCurves();
}

void SensitivityPlots::refresh() {
    drawBars();
    drawHeatmap();
    drawCurves();
}

double SensitivityPlots::barValue(int row) const {
    const auto& l = model_->layers()[static_cast<size_t>(row)];
    if (barValue_ == BarValue::PredictedAtChosenBpw) return metricAt(l, model_->bpwAt(row));
    const int b = lowest_measured_bpw(l);
    return b < 0 ? std::numeric_limits<double>::quiet_NaN() : metricAt(l, b);
}

QString SensitivityPlots::barAxisLabel() const {
    if (metric_ == Metric::ProxyLoss)
        return (barValue_ == BarValue::Sensitivity ? tr("sensitivity (%1)") : tr("loss at chosen bpw (%1)")).arg(kLossUnits);
    return (barValue_ == BarValue::Sensitivity ? tr("relative error, lowest bpw (%1)")
                                               : tr("relative error at chosen bpw (%1)"))
        .arg(kRelativeUnits);
}

void SensitivityPlots::drawBars() {
    QCustomPlot* p = bars_->plot();
    p->clearPlottables();
    p->clearItems();
    p->legend->setVisible(false);
    const int n = model_->rowCount();
    std::map<int, QCPBars*> byType;
    // Losses span orders of magnitude (a few down_proj layers dwarf the
    // rest): a log axis, like the heatmap's colours and the curves.
    double lo = std::numeric_limits<double>::infinity(), top = 0.0;
    for (int row = 0; row < n; ++row) {
        const double v = barValue(row);
        if (std::isnan(v) || v <= 0) continue;
        const ModuleType t = module_type_of(row_name(model_, row));
        QCPBars*& bars = byType[static_cast<int>(t)];
        if (!bars) {
            bars = new QCPBars(p->xAxis, p->yAxis);
            bars->setName(module_type_name(t));
            bars->setWidth(0.8);
            bars->setPen(Qt::NoPen);
            bars->setBrush(module_color(t));
        }
        bars->addData(row, v);
        lo = std::min(lo, v);
        top = std::max(top, v);
    }
    if (!selected_.isEmpty()) {
        auto* sel = new QCPBars(p->xAxis, p->yAxis);
        sel->setName(tr("selected"));
        sel->setWidth(0.9);
        sel->setPen(QPen(Qt::black, 1.5));
        sel->setBrush(Qt::NoBrush);
        for (int row : selected_) {
            const double v = barValue(row);
            if (!std::isnan(v) && v > 0) sel->addData(row, v);
        }
        sel->removeFromLegend();
    }
    // Legend: one entry per module type present, in model order.
    p->legend->clearItems();
    for (const auto& [t, bars] : byType) p->legend->addItem(new QCPPlottableLegendItem(p->legend, bars));
    legend_above_axes(p);
    p->legend->setWrap(heatmap_->isHidden() ? 4 : 7);  // two rows beside the bpw table, else one
    p->legend->setVisible(!byType.empty());

    // X ticks at the first layer of each transformer block.
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    int lastBlock = -2, blocks = 0;
    for (int row = 0; row < n; ++row) {
        const int b = block_of(row_name(model_, row));
        if (b != lastBlock && b >= 0) ++blocks;
        lastBlock = b;
    }
    // About 16 block labels across a full-width plot, 8 beside the bpw table
    // (Compact hides the heatmap): more would run into each other.
    const int every = std::max(1, blocks / (heatmap_->isHidden() ? 8 : 16));
    lastBlock = -2;
    for (int row = 0; row < n; ++row) {
        const int b = block_of(row_name(model_, row));
        if (b != lastBlock) {
            if (b < 0) ticker->addTick(row, QStringLiteral("head"));
            else if (b % every == 0) ticker->addTick(row, QString::number(b));
        }
        lastBlock = b;
    }
    p->xAxis->setTicker(ticker);
    p->xAxis->setLabel(tr("layer (tick N: first layer of block N)"));
    p->yAxis->setLabel(barAxisLabel());
    p->xAxis->setRange(-0.7, std::max(1, n) - 0.3);
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    p->yAxis->setNumberFormat(QStringLiteral("eb"));
    p->yAxis->setNumberPrecision(0);
    // Bars rise from below the axis (a log axis has no zero).
    if (top > 0) p->yAxis->setRange(lo / 3, top * 1.5);
    else p->yAxis->setRange(1e-6, 1);
    if (metricMissing()) showMissingHint(p);
    p->replot();
}

void SensitivityPlots::drawHeatmap() {
    QCustomPlot* p = heatmap_->plot();
    if (!colorMap_) {
        colorMap_ = new QCPColorMap(p->xAxis, p->yAxis);
        colorMap_->setInterpolate(false);  // one crisp cell per layer
        colorMap_->setTightBoundary(false);
        colorScale_ = new QCPColorScale(p);
        p->plotLayout()->addElement(0, 1, colorScale_);
        colorScale_->setType(QCPAxis::atRight);
        colorMap_->setColorScale(colorScale_);
        // Viridis (perceptually uniform, readable in grey): QCustomPlot 2.1
        // has no preset for it, so give its stops. No white end: the most
        // sensitive cell must not vanish into the background.
        QCPColorGradient g;
        g.clearColorStops();
        g.setColorStopAt(0.00, QColor(0x44, 0x01, 0x54));
        g.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
        g.setColorStopAt(0.50, QColor(0x21, 0x91, 0x8c));
        g.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
        g.setColorStopAt(1.00, QColor(0xfd, 0xe7, 0x25));
        g.setColorInterpolation(QCPColorGradient::ciRGB);
        g.setNanHandling(QCPColorGradient::nhTransparent);
        colorMap_->setGradient(g);
        auto* group = new QCPMarginGroup(p);
        p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
        colorScale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
        auto ticker = QSharedPointer<QCPAxisTickerText>::create();
        const auto& types = quantized_module_types();
        for (int i = 0; i < types.size(); ++i) ticker->addTick(i, module_type_name(types[i]));
        p->xAxis->setTicker(ticker);
        p->xAxis->setLabel(tr("module type"));
        p->yAxis->setLabel(tr("transformer block"));
        p->yAxis->setRangeReversed(true);  // block 0 at the top, like the table
        p->xAxis->grid()->setVisible(false);
        p->yAxis->grid()->setVisible(false);
    }
    // The panel's title names the quantity; the scale its unit.
    colorScale_->axis()->setLabel(metric_ == Metric::ProxyLoss ? tr("log₁₀ proxy loss (%1)").arg(kLossUnits)
                                                               : tr("log₁₀ relative error (%1)").arg(kRelativeUnits));
    p->clearItems();
    if (metricMissing()) showMissingHint(p);
    int blocks = 0;
    for (int row = 0; row < model_->rowCount(); ++row) blocks = std::max(blocks, block_of(row_name(model_, row)) + 1);
    const auto& types = quantized_module_types();
    QCPColorMapData* d = colorMap_->data();
    d->setSize(static_cast<int>(types.size()), std::max(1, blocks));
    d->setRange(QCPRange(0, static_cast<double>(types.size() - 1)), QCPRange(0, std::max(1, blocks) - 1 + (blocks <= 1 ? 1e-9 : 0)));
    d->fill(std::numeric_limits<double>::quiet_NaN());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int row = 0; row < model_->rowCount(); ++row) {
        const QString name = row_name(model_, row);
        const int b = block_of(name);
        const int t = static_cast<int>(types.indexOf(module_type_of(name)));
        const double v = barValue(row);
        if (b < 0 || t < 0 || std::isnan(v) || v <= 0) continue;
        const double lv = std::log10(v);
        d->setCell(t, b, lv);
        lo = std::min(lo, lv);
        hi = std::max(hi, lv);
    }
    if (lo <= hi) colorMap_->setDataRange(QCPRange(lo, hi > lo ? hi : lo + 1));
    p->xAxis->setRange(-0.5, types.size() - 0.5);
    p->yAxis->setRange(-0.5, std::max(1, blocks) - 0.5);
    // Integer block ticks, fewer when there are many blocks.
    auto yt = QSharedPointer<QCPAxisTickerFixed>::create();
    yt->setTickStep(std::max(1, blocks / 12));
    yt->setScaleStrategy(QCPAxisTickerFixed::ssNone);
    p->yAxis->setTicker(yt);
    p->replot();
}

void SensitivityPlots::drawCurves() {
    QCustomPlot* p = curves_->plot();
    p->clearPlottables();
    p->clearItems();
    p->xAxis->setLabel(tr("bits per weight (bpw)"));
    p->yAxis->setLabel(metricAxisLabel());
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    p->yAxis->setNumberFormat(QStringLiteral("eb"));  // 10⁻³, like the bars
    p->yAxis->setNumberPrecision(0);
    auto xt = QSharedPointer<QCPAxisTickerFixed>::create();
    xt->setTickStep(1);
    xt->setScaleStrategy(QCPAxisTickerFixed::ssNone);
    p->xAxis->setTicker(xt);
    p->xAxis->setRange(kMinBpw - 0.3, kMaxBpw + 0.3);
    p->legend->setVisible(true);
    p->legend->setFont(font());
    // The legend sits outside the axes, where it never hides a curve: below
    // them beside the bpw table (a tall, narrow panel), to their right in
    // the wide, short panel beside the heatmap.
    if (p->plotLayout()->elementCount() == 1) {
        p->axisRect()->insetLayout()->take(p->legend);
        auto* side = new QCPLayoutGrid;
        side->setAutoMargins(QCP::msNone);
        side->setMargins(QMargins(0, 0, 3, 3));  // room for the legend's border at the widget's edges
        side->addElement(0, 0, p->legend);
        if (heatmap_->isHidden()) {
            p->plotLayout()->addElement(1, 0, side);
            p->plotLayout()->setRowStretchFactor(1, 0.001);
        } else {
            p->plotLayout()->addElement(0, 1, side);
            p->plotLayout()->setColumnStretchFactor(1, 0.001);
            side->addElement(1, 0, new QCPLayoutElement(p));  // takes the rest: the legend stays at the top
            side->setRowStretchFactor(0, 0.001);
        }
        p->legend->setFillOrder(QCPLegend::foColumnsFirst);
        p->legend->setWrap(1);  // one entry per row: full layer names
    }

    // Up to ten curves stay legible; the editor can select more.
    static const QList<QColor> palette{QColor(0x1f, 0x77, 0xb4), QColor(0xd6, 0x27, 0x28), QColor(0x2c, 0xa0, 0x2c),
                                       QColor(0xff, 0x7f, 0x0e), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                       QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
                                       QColor(0x17, 0xbe, 0xcf)};
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    int drawn = 0;
    for (int row : selected_) {
        if (drawn == palette.size()) break;
        const auto& l = model_->layers()[static_cast<size_t>(row)];
        QCPGraph* g = p->addGraph();
        g->setName(row_name(model_, row));
        g->setAdaptiveSampling(true);
        g->setPen(QPen(palette[drawn], 2));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
        for (int b = kMinBpw; b <= kMaxBpw; ++b) {
            const double v = metricAt(l, b);
            if (std::isnan(v) || v <= 0) continue;
            g->addData(b, v);
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        // The chosen rate: a filled diamond on the curve.
        const double at = metricAt(l, model_->bpwAt(row));
        if (!std::isnan(at) && at > 0) {
            QCPGraph* mark = p->addGraph();
            mark->setLineStyle(QCPGraph::lsNone);
            mark->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, QPen(Qt::black), QBrush(palette[drawn]), 12));
            mark->addData(model_->bpwAt(row), at);
            mark->removeFromLegend();
        }
        ++drawn;
    }
    if (metricMissing()) {
        showMissingHint(p);
        p->legend->setVisible(false);
        p->yAxis->setRange(1e-6, 1);
    } else if (drawn == 0) {
        auto* hint = new QCPItemText(p);
        hint->position->setType(QCPItemPosition::ptAxisRectRatio);
        hint->position->setCoords(0.5, 0.5);
        hint->setText(tr("Select layers in the bpw table or click a bar\nto compare their loss at every bpw"));
        hint->setColor(Qt::darkGray);
        p->legend->setVisible(false);
        p->yAxis->setRange(1e-6, 1);
    } else {
        p->yAxis->setRange(lo / 2, hi * 2);
    }
    p->replot();
}

int SensitivityPlots::barRowAt(const QPointF& pos) const {
    QCustomPlot* p = bars_->plot();
    if (!p->axisRect()->rect().contains(pos.toPoint())) return -1;
    const int row = static_cast<int>(std::lround(p->xAxis->pixelToCoord(pos.x())));
    if (row < 0 || row >= model_->rowCount()) return -1;
    const double v = barValue(row);
    return std::isnan(v) ? -1 : row;
}

int SensitivityPlots::heatmapRowAt(const QPointF& pos) const {
    QCustomPlot* p = heatmap_->plot();
    if (!p->axisRect()->rect().contains(pos.toPoint())) return -1;
    const int t = static_cast<int>(std::lround(p->xAxis->pixelToCoord(pos.x())));
    const int b = static_cast<int>(std::lround(p->yAxis->pixelToCoord(pos.y())));
    const auto& types = quantized_module_types();
    if (t < 0 || t >= types.size()) return -1;
    for (int row = 0; row < model_->rowCount(); ++row) {
        const QString name = row_name(model_, row);
        if (block_of(name) == b && module_type_of(name) == types[t]) return row;
    }
    return -1;
}

QString SensitivityPlots::barTooltip(int row) const {
    const auto& l = model_->layers()[static_cast<size_t>(row)];
    const int b = model_->bpwAt(row);
    QString text = tr("%1\nmodule %2, %3 × %4\nsensitivity: %5\nchosen %6 bpw → loss %7")
                       .arg(row_name(model_, row), module_type_name(module_type_of(row_name(model_, row))))
                       .arg(l.rows)
                       .arg(l.cols)
                       .arg(lowest_measured_loss(l), 0, 'g', 6)
                       .arg(b)
                       .arg(plan::predicted_loss(l, b), 0, 'g', 6);
    const int low = lowest_measured_bpw(l);
    const double rel_low = low < 0 ? std::numeric_limits<double>::quiet_NaN() : plan::predicted_relative_error(l, low);
    if (!std::isnan(rel_low))
        text += tr("\nrelative error: %1 at %2 bpw, %3 at the chosen bpw")
                    .arg(rel_low, 0, 'g', 6)
                    .arg(low)
                    .arg(plan::predicted_relative_error(l, b), 0, 'g', 6);
    return text;
}

bool SensitivityPlots::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() != QEvent::ToolTip) return QWidget::eventFilter(watched, event);
    auto* help = static_cast<QHelpEvent*>(event);
    QString text;
    if (watched == bars_->plot()) {
        const int row = barRowAt(help->pos());
        if (row >= 0) text = barTooltip(row);
    } else if (watched == heatmap_->plot()) {
        const int row = heatmapRowAt(help->pos());
        if (row >= 0) text = barTooltip(row);
    } else if (watched == curves_->plot()) {
        QCustomPlot* p = curves_->plot();
        const int b = static_cast<int>(std::lround(p->xAxis->pixelToCoord(help->pos().x())));
        if (b >= kMinBpw && b <= kMaxBpw && !selected_.isEmpty()) {
            QStringList lines{tr("%1 bpw, %2").arg(b).arg(metricAxisLabel())};
            for (int row : selected_) {
                const auto& l = model_->layers()[static_cast<size_t>(row)];
                const bool measured = metric_ == Metric::ProxyLoss ? l.measured(b) : l.has_relative_error(b);
                lines << tr("%1: %2%3").arg(row_name(model_, row)).arg(metricAt(l, b), 0, 'g', 6)
                             .arg(measured ? QString() : tr(" (predicted)"));
            }
            text = lines.join(QLatin1Char('\n'));
        }
    }
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(help->globalPos(), text, static_cast<QWidget*>(watched));
    return true;
}

QString SensitivityPlots::barsCsv() const {
    QString out;
    QTextStream s(&out);
    s << "row,layer,module,rows,cols,bpw,sensitivity,predicted_loss_at_bpw,relative_error_sensitivity,"
         "predicted_relative_error_at_bpw\n";
    for (int row = 0; row < model_->rowCount(); ++row) {
        const auto& l = model_->layers()[static_cast<size_t>(row)];
        s << row << ',' << row_name(model_, row) << ',' << module_type_name(module_type_of(row_name(model_, row))) << ','
          << l.rows << ',' << l.cols << ',' << model_->bpwAt(row) << ',' << QString::number(lowest_measured_loss(l), 'g', 10)
          << ',' << QString::number(plan::predicted_loss(l, model_->bpwAt(row)), 'g', 10) << ','
          << QString::number(plan::predicted_relative_error(l, lowest_measured_bpw(l)), 'g', 10) << ','
          << QString::number(plan::predicted_relative_error(l, model_->bpwAt(row)), 'g', 10) << '\n';
    }
    return out;
}

QString SensitivityPlots::heatmapCsv() const {
    QString out;
    QTextStream s(&out);
    // "value" is what the heatmap shows; "metric" names it.
    s << "block,module,layer,value,log10_value,metric\n";
    for (int row = 0; row < model_->rowCount(); ++row) {
        const QString name = row_name(model_, row);
        const int b = block_of(name);
        if (b < 0) continue;
        const double v = barValue(row);
        s << b << ',' << module_type_name(module_type_of(name)) << ',' << name << ',' << QString::number(v, 'g', 10) << ','
          << QString::number(v > 0 ? std::log10(v) : std::numeric_limits<double>::quiet_NaN(), 'g', 10) << ','
          << metric_key(metric_) << '\n';
    }
    return out;
}

QString SensitivityPlots::curvesCsv() const {
    QString out;
    QTextStream s(&out);
    s << "layer,bpw,proxy_loss,measured,chosen,relative_error,relative_error_measured\n";
    for (int row : selected_) {
        const auto& l = model_->layers()[static_cast<size_t>(row)];
        for (int b = kMinBpw; b <= kMaxBpw; ++b)
            s << row_name(model_, row) << ',' << b << ',' << QString::number(plan::predicted_loss(l, b), 'g', 10) << ','
              << (l.measured(b) ? 1 : 0) << ',' << (model_->bpwAt(row) == b ? 1 : 0) << ','
              << QString::number(plan::predicted_relative_error(l, b), 'g', 10) << ',' << (l.has_relative_error(b) ? 1 : 0)
              << '\n';
    }
    return out;
}

} // namespace glq::ui
