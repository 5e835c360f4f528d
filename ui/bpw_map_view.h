#pragma once
// The bpw map editor: the per-layer table (sensitivity, editable bpw 2..8),
// tools to set many layers at once (selection, name pattern, allocation to a
// target average), a live read-out of average bpw, size and predicted proxy
// loss, load/save of bpw_allocation.json, and the plots, all following the
// map as it changes. Undo/redo is the model's QUndoStack (Edit menu).

#include <QWidget>

class QDoubleSpinBox;
class QLabel;
class QSettings;
class QLineEdit;
class QSpinBox;
class QTableView;

namespace glq::ui {

class BpwMapModel;
class LayerFilterProxy;
class SensitivityPlots;

class BpwMapView : public QWidget {
    Q_OBJECT
public:
    BpwMapView(BpwMapModel* model, QWidget* parent = nullptr);

    QTableView* table() const { return table_; }
    SensitivityPlots* plots() const { return plots_; }
    QString readout() const;
    // Selects (and scrolls to) source rows; the plots follow.
    void selectRows(const QList<int>& rows);
    QList<int> selectedRows() const;

    // The allocation's target/min/max and the plots' metric and bar mode,
    // under "bpwMap/" (the map itself is the user's file, not a setting).
    void saveSettings(QSettings& s) const;
    void loadSettings(QSettings& s);

signals:
    void loadRequested();
    void saveRequested();
    void errorOccurred(const QString& where, const QString& problem);
    void message(const QString& text);

private:
    void updateReadout();
    void setSelected();
    void setByPattern();
    void allocate();

    BpwMapModel* model_;
    LayerFilterProxy* proxy_;
    QTableView* table_;
    SensitivityPlots* plots_;
    QLabel* readout_;
    QSpinBox* selectedBpw_;
    QLineEdit* pattern_;
    QSpinBox* patternBpw_;
    QDoubleSpinBox* target_;
    QSpinBox* minBpw_;
    QSpinBox* maxBpw_;
};

} // namespace glq::ui
