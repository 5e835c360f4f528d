#include "ui/bpw_map_model.h"

#include <QLocale>
#include <QUndoCommand>
#include <algorithm>
#include <cmath>
#include <set>

#include "core/common/error.h"
#include "core/plan/allocator.h"
#include "core/plan/module_name.h"
#include "core/plan/bpw_map.h"
#include "ui/name_pattern.h"

namespace glq::ui {

// One undo step: a set of (row, new bpw) with the old values kept for undo.
class SetBpwCommand : public QUndoCommand {
public:
    SetBpwCommand(BpwMapModel* model, std::vector<std::pair<int, int>> after, const QString& text)
        : QUndoCommand(text), model_(model), after_(std::move(after)) {
        before_.reserve(after_.size());
        for (const auto& [row, b] : after_) before_.emplace_back(row, model_->bpwAt(row));
    }
    void redo() override { model_->assign(after_); }
    void undo() override { model_->assign(before_); }

private:
    BpwMapModel* model_;
    std::vector<std::pair<int, int>> after_;
    std::vector<std::pair<int, int>> before_;
};

BpwMapModel::BpwMapModel(QObject* parent) : QAbstractTableModel(parent) {}

void BpwMapModel::setLayers(std::vector<LayerSensitivity> layers, int initial_bpw) {
    beginResetModel();
    layers_ = std::move(layers);
    bpw_.assign(layers_.size(), std::clamp(initial_bpw, kMinBpw, kMaxBpw));
    undo_.clear();
    endResetModel();
    emit mapChanged();
}

void BpwMapModel::setLayers(const QVector<LinearLayer>& linears, int initial_bpw) {
    std::vector<LayerSensitivity> layers;
    layers.reserve(static_cast<size_t>(linears.size()));
    for (const auto& l : linears) {
        LayerSensitivity s;
        s.name = l.name.toStdString();
        s.rows = l.rows;
        s.cols = l.cols;
        layers.push_back(std::move(s));
    }
    setLayers(std::move(layers), initial_bpw);
}

void BpwMapModel::applySensitivity(const SensitivityTable& table) {
    for (auto& l : layers_)
        if (const LayerSensitivity* m = table.find(l.name)) {
            l.proxy_loss = m->proxy_loss;
            l.relative_error = m->relative_error;  // the plots' second metric
        }
    if (!layers_.empty())
        emit dataChanged(index(0, Sensitivity), index(rowCount() - 1, PredictedLoss));
    emit mapChanged();
}

int BpwMapModel::rowOf(const QString& name) const {
    const std::string n = name.toStdString();
    for (size_t i = 0; i < layers_.size(); ++i)
        if (layers_[i].name == n) return static_cast<int>(i);
    return -1;
}

QStringList BpwMapModel::layerNames() const {
    QStringList names;
    for (const auto& l : layers_) names << QString::fromStdString(l.name);
    return names;
}

void BpwMapModel::assign(const std::vector<std::pair<int, int>>& row_bpw) {
    int lo = rowCount(), hi = -1;
    for (const auto& [row, b] : row_bpw) {
        bpw_[static_cast<size_t>(row)] = b;
        lo = std::min(lo, row);
        hi = std::max(hi, row);
    }
    if (hi >= lo) emit dataChanged(index(lo, Bpw), index(hi, PredictedLoss));
    emit mapChanged();
}

bool BpwMapModel::setBpw(const QList<int>& rows, int bpw) {
    if (bpw < kMinBpw || bpw > kMaxBpw || rows.isEmpty()) return false;
    std::vector<std::pair<int, int>> after;
    std::set<int> seen;
    for (int r : rows) {
        if (r < 0 || r >= rowCount()) return false;
        if (seen.insert(r).second) after.emplace_back(r, bpw);
    }
    const QString text = after.size() == 1
                             ? tr("Set %1 to %2 bpw").arg(QString::fromStdString(layers_[after[0].first].name)).arg(bpw)
                             : tr("Set %1 layers to %2 bpw").arg(after.size()).arg(bpw);
    undo_.push(new SetBpwCommand(this, std::move(after), text));
    return true;
}

int BpwMapModel::setBpwByPattern(const QString& pattern, int bpw) {
    if (bpw < kMinBpw || bpw > kMaxBpw) return 0;
    const NamePattern p(pattern);
    std::vector<std::pair<int, int>> after;
    for (size_t i = 0; i < layers_.size(); ++i)
        if (p.matches(QString::fromStdString(layers_[i].name))) after.emplace_back(static_cast<int>(i), bpw);
    const int n = static_cast<int>(after.size());
    if (n > 0) undo_.push(new SetBpwCommand(this, std::move(after), tr("Set %1 to %2 bpw").arg(p.pattern()).arg(bpw)));
    return n;
}

bool BpwMapModel::setAllBpw(const std::vector<int>& bpw, const QString& text) {
    if (bpw.size() != layers_.size()) return false;
    std::vector<std::pair<int, int>> after;
    for (size_t i = 0; i < bpw.size(); ++i) {
        if (bpw[i] < kMinBpw || bpw[i] > kMaxBpw) return false;
        after.emplace_back(static_cast<int>(i), bpw[i]);
    }
    if (!after.empty()) undo_.push(new SetBpwCommand(this, std::move(after), text));
    return true;
}

std::vector<size_t> BpwMapModel::quantizableRows() const {
    std::vector<size_t> rows;
    for (size_t i = 0; i < layers_.size(); ++i)
        if (plan::layer_index_of(layers_[i].name)) rows.push_back(i);
    return rows;
}

SensitivityTable BpwMapModel::table() const {
    SensitivityTable t;
    for (size_t i : quantizableRows()) t.layers.push_back(layers_[i]);
    return t;
}

plan::BudgetSummary BpwMapModel::summary() const {
    std::vector<LayerSensitivity> layers;
    std::vector<int> bpw;
    for (size_t i : quantizableRows()) {
        layers.push_back(layers_[i]);
        bpw.push_back(bpw_[i]);
    }
    return plan::summarize_budget(layers, bpw);
}

void BpwMapModel::allocate(double target_bpw, int min_bpw, int max_bpw) {
    // The GUI's wording for a map with nothing measured; any other problem
    // (a layer without a loss among measured ones, a bad target) is core's.
    const SensitivityTable quantizable = table();
    if (std::none_of(quantizable.layers.begin(), quantizable.layers.end(), [](const LayerSensitivity& l) {
            return !std::isnan(plan::predicted_loss(l, kMinBpw));
        }))
        throw glq::Error("bpw map", "no sensitivity measured: load a sensitivity table (or run calibration) before allocating");
    plan::AllocationRequest request;
    request.target_bpw = target_bpw;
    request.min_bpw = min_bpw;
    request.max_bpw = max_bpw;
    const plan::Allocation a = plan::allocate_bpw(quantizable, request);
    std::vector<int> values = bpw_;  // a layer outside the decoder keeps its rate
    for (size_t i : quantizableRows()) values[i] = a.bpw.at(layers_[i].name);
    setAllBpw(values, tr("Allocate for %1 bpw average").arg(target_bpw, 0, 'f', 2));
}

void BpwMapModel::loadAllocation(const QString& path) {
    std::vector<std::string> names;
    for (const auto& l : layers_) names.push_back(l.name);
    if (names.empty()) throw glq::Error(path.toStdString(), "open a model or a sensitivity table before loading a bpw map");
    // core's reader and rules, the ones `glqw quantize --bpw-map` applies.
    const plan::BpwMap map = plan::BpwMap::load(path.toStdString());
    map.validate_layers(names, path.toStdString());
    std::vector<int> values(layers_.size());
    for (size_t i = 0; i < layers_.size(); ++i) values[i] = map.bpw_for(layers_[i].name);
    setAllBpw(values, tr("Load %1").arg(path.section(QLatin1Char('/'), -1)));
}

void BpwMapModel::saveAllocation(const QString& path) const {
    plan::BpwMap map;
    for (size_t i = 0; i < layers_.size(); ++i) map.layers[layers_[i].name] = bpw_[i];
    map.save(path.toStdString());
}

int BpwMapModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(layers_.size());
}

int BpwMapModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

namespace {
QString format_loss(double v) { return std::isnan(v) ? QStringLiteral("—") : QString::number(v, 'g', 4); }
} // namespace

QVariant BpwMapModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const auto& l = layers_[static_cast<size_t>(index.row())];
    const int b = bpw_[static_cast<size_t>(index.row())];
    const QString name = QString::fromStdString(l.name);
    // "Sensitivity" is the loss at the lowest rate measured (2 bpw in a
    // profiling pass): how much this layer suffers from being squeezed.
    double sensitivity = std::numeric_limits<double>::quiet_NaN();
    for (int r = kMinBpw; r <= kMaxBpw && std::isnan(sensitivity); ++r)
        if (l.measured(r)) sensitivity = l.loss(r);
    const double predicted = plan::predicted_loss(l, b);
    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        switch (index.column()) {
        case Name: return name;
        case Module: return module_type_name(module_type_of(name));
        case Parameters: return role == Qt::EditRole ? QVariant(static_cast<qlonglong>(l.parameters())) : QVariant(QLocale::system().toString(l.parameters()));
        case Sensitivity: return format_loss(sensitivity);
        case Bpw: return b;
        case PredictedLoss: return format_loss(predicted);
        }
    } else if (role == SortRole) {
        switch (index.column()) {
        case Name: return name;
        case Module: return static_cast<int>(module_type_of(name));
        case Parameters: return static_cast<qlonglong>(l.parameters());
        case Sensitivity: return std::isnan(sensitivity) ? -1.0 : sensitivity;
        case Bpw: return b;
        case PredictedLoss: return std::isnan(predicted) ? -1.0 : predicted;
        }
    } else if (role == Qt::TextAlignmentRole && index.column() >= Parameters) {
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    } else if (role == Qt::ToolTipRole && index.column() == Sensitivity) {
        QStringList lines{name};
        for (int r = kMinBpw; r <= kMaxBpw; ++r)
            lines << tr("%1 bpw: %2%3").arg(r).arg(format_loss(plan::predicted_loss(l, r)),
                                                   l.measured(r) ? QString() : tr(" (predicted)"));
        return lines.join(QLatin1Char('\n'));
    }
    return {};
}

bool BpwMapModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || index.column() != Bpw || role != Qt::EditRole) return false;
    bool ok = false;
    const int b = value.toInt(&ok);
    if (!ok || b == bpwAt(index.row())) return ok;
    return setBpw({index.row()}, b);
}

Qt::ItemFlags BpwMapModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == Bpw) f |= Qt::ItemIsEditable;
    return f;
}

QVariant BpwMapModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name: return tr("Layer");
        case Module: return tr("Module");
        case Parameters: return tr("Parameters");
        case Sensitivity: return tr("Sensitivity");
        case Bpw: return tr("bpw");
        case PredictedLoss: return tr("Predicted loss");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case Sensitivity: return tr("Proxy loss tr(ΔW H ΔWᵀ) at the lowest measured bpw (2 in a profiling pass)");
        case Bpw: return tr("Bits per weight for this layer, 2–8 (double-click to edit)");
        case PredictedLoss: return tr("Proxy loss at the chosen bpw: measured, or predicted as loss × 4^-Δbpw from the nearest measured rate");
        }
    }
    return {};
}

} // namespace glq::ui
