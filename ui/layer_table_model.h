#pragma once
// The Model view's table: one row per linear layer (name, module type, shape,
// parameters, dtype). Sort through a QSortFilterProxyModel with
// setSortRole(LayerTableModel::SortRole): numeric columns then sort by value,
// not by their formatted text.

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>

#include "ui/model_summary.h"
#include "ui/name_pattern.h"

namespace glq::ui {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Module, Shape, Parameters, DType, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit LayerTableModel(QObject* parent = nullptr);

    void setLayers(QVector<LinearLayer> layers);
    const QVector<LinearLayer>& layers() const { return layers_; }
    // Row of the layer called `name`, -1 if absent.
    int rowOf(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QVector<LinearLayer> layers_;
};

// Filters rows by a case-insensitive substring, or a wildcard pattern (see
// NamePattern) when the text has * or ?, on the layer name, and sorts by LayerTableModel::SortRole.
class LayerFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit LayerFilterProxy(QObject* parent = nullptr);
    // "mlp" matches names containing mlp; "*.mlp.down_proj" is a wildcard.
    void setNameFilter(const QString& text);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    NamePattern pattern_{QString()};
};

} // namespace glq::ui
