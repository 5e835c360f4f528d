#pragma once
// The bpw map editor's model: one row per linear layer with its parameter
// count, sensitivity and an editable bpw (2..8). Every change goes through
// the model's QUndoStack, so a single edit, a multi-row set, a pattern set, a
// loaded file and an allocation are each one undo step. mapChanged() fires
// after every change (and undo/redo) so read-outs and plots follow live.

#include <QAbstractTableModel>
#include <QUndoStack>
#include <vector>

#include "core/plan/budget.h"
#include "ui/model_summary.h"
#include "ui/sensitivity_table.h"

namespace glq::ui {

class BpwMapModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Module, Parameters, Sensitivity, Bpw, PredictedLoss, ColumnCount };
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit BpwMapModel(QObject* parent = nullptr);

    // Layers with their measured losses; every bpw starts at `initial_bpw`.
    // Clears the undo history.
    void setLayers(std::vector<LayerSensitivity> layers, int initial_bpw = 4);
    // Layers of a model with no sensitivity measured yet (losses unknown).
    void setLayers(const QVector<LinearLayer>& linears, int initial_bpw = 4);
    // Attaches measured losses to the layers of the same name (others keep theirs).
    void applySensitivity(const SensitivityTable& table);

    const std::vector<LayerSensitivity>& layers() const { return layers_; }
    const std::vector<int>& bpw() const { return bpw_; }
    int bpwAt(int row) const { return bpw_[static_cast<size_t>(row)]; }
    int rowOf(const QString& name) const;
    QStringList layerNames() const;

    // Each is one undo step; values outside 2..8 or unknown rows are refused
    // (return false / 0) without touching the map.
    bool setBpw(const QList<int>& rows, int bpw);
    int setBpwByPattern(const QString& pattern, int bpw);  // rows changed
    bool setAllBpw(const std::vector<int>& bpw, const QString& text);
    // core's allocator (plan::allocate_bpw, the one `glqw allocate` runs) over
    // the quantizable layers (those of a decoder layer: GLQ leaves an untied
    // lm_head as it is); one undo step. Throws glq::Error, as the CLI does:
    // for min/max/target out of range and for any of those layers without a
    // measured loss (nothing is guessed for it).
    void allocate(double target_bpw, int min_bpw = kMinBpw, int max_bpw = kMaxBpw);
    // The quantizable layers and their losses, as the sensitivity table core reads.
    SensitivityTable table() const;

    // The read-out (core/plan/budget.h) over the quantizable layers.
    plan::BudgetSummary summary() const;

    // bpw_allocation.json through core's reader and writer (plan::BpwMap, the
    // ones glqw uses): load replaces the whole map (one undo step); layers the
    // file does not list get its "default", else 2, as the reference does; a
    // layer the model lacks is refused. Both throw glq::Error naming the file.
    void loadAllocation(const QString& path);
    void saveAllocation(const QString& path) const;

    QUndoStack* undoStack() { return &undo_; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

signals:
    void mapChanged();

private:
    friend class SetBpwCommand;
    // Applies values without touching the undo stack (the commands call it).
    void assign(const std::vector<std::pair<int, int>>& row_bpw);
    // Rows of the layers GLQ quantizes (inside a decoder layer), in order.
    std::vector<size_t> quantizableRows() const;

    std::vector<LayerSensitivity> layers_;
    std::vector<int> bpw_;
    QUndoStack undo_;
};

} // namespace glq::ui
