#include "ui/layer_table_model.h"

#include <QLocale>

namespace glq::ui {

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(QVector<LinearLayer> layers) {
    beginResetModel();
    layers_ = std::move(layers);
    endResetModel();
}

int LayerTableModel::rowOf(const QString& name) const {
    for (int i = 0; i < layers_.size(); ++i)
        if (layers_[i].name == name) return i;
    return -1;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(layers_.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= layers_.size()) return {};
    const LinearLayer& l = layers_[index.row()];
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return l.name;
        case Module: return module_type_name(l.module);
        case Shape: return QStringLiteral("%1 × %2").arg(l.rows).arg(l.cols);
        case Parameters: return QLocale::system().toString(l.parameters());
        case DType: return l.dtype;
        }
    } else if (role == SortRole) {
        switch (index.column()) {
        case Name: return l.name;
        case Module: return static_cast<int>(l.module);
        case Shape: return l.rows * 1'000'000'000LL + l.cols;  // rows, then columns
        case Parameters: return l.parameters();
        case DType: return l.dtype;
        }
    } else if (role == Qt::TextAlignmentRole) {
        if (index.column() == Parameters || index.column() == Shape)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    } else if (role == Qt::ToolTipRole && index.column() == Name) {
        return QStringLiteral("%1\n%2 rows (out) × %3 columns (in) = %4 parameters")
            .arg(l.name)
            .arg(l.rows)
            .arg(l.cols)
            .arg(QLocale::system().toString(l.parameters()));
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case Name: return tr("Layer");
    case Module: return tr("Module");
    case Shape: return tr("Shape (out × in)");
    case Parameters: return tr("Parameters");
    case DType: return tr("DType");
    }
    return {};
}

LayerFilterProxy::LayerFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(LayerTableModel::SortRole);
}

void LayerFilterProxy::setNameFilter(const QString& text) {
    pattern_ = NamePattern(text);
    invalidateFilter();
}

bool LayerFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (pattern_.pattern().isEmpty()) return true;
    const QString name = sourceModel()->index(sourceRow, 0, sourceParent).data(Qt::DisplayRole).toString();
    if (!pattern_.isWildcard()) return name.contains(pattern_.pattern(), Qt::CaseInsensitive);
    return pattern_.matches(name);
}

} // namespace glq::ui
