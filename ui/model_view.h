#pragma once
// The Model step: open an HF model folder (or import a GGUF into one), see
// its summary and every linear layer, and check the memory it needs on the
// chosen device before anything is loaded. When it will not fit, the view
// says so and offers the CPU; it never switches devices by itself.

#include <QWidget>

#include "ui/model_summary.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;
class QFormLayout;

namespace glq::ui {

class DeviceMonitor;
class LayerFilterProxy;
class LayerTableModel;
struct JobProgress;

class ModelView : public QWidget {
    Q_OBJECT
public:
    ModelView(DeviceMonitor* devices, QWidget* parent = nullptr);

    void setSummary(const ModelSummary& summary);
    void clearSummary();
    bool hasModel() const { return loaded_; }
    const ModelSummary& summary() const { return summary_; }

    LayerTableModel* layerModel() const { return layers_; }
    LayerFilterProxy* layerProxy() const { return proxy_; }
    QTableView* layerTable() const { return table_; }
    void selectLayer(const QString& name);

    // The device the memory check is for ("cpu", "cuda:0"...), and whether the
    // estimate fits its free memory.
    QString chosenDevice() const;
    void setChosenDevice(const QString& id);
    bool fitsOnChosenDevice() const;
    QString memoryVerdict() const;

    // Job feedback while a model opens or a GGUF imports.
    void showJobStarted(const QString& title);
    void showJobProgress(const glq::ui::JobProgress& p);
    void showJobEnded();

signals:
    void openFolderRequested();
    void importGgufRequested();
    void cancelRequested();
    void layerSelected(const QString& name);
    void chosenDeviceChanged(const QString& id);

private:
    void refreshDevices();
    void refreshMemory();

    DeviceMonitor* devices_;
    ModelSummary summary_;
    bool loaded_ = false;
    LayerTableModel* layers_;
    LayerFilterProxy* proxy_;
    QTableView* table_;
    QLineEdit* filter_;
    QLabel* path_;
    QFormLayout* form_;
    QLabel* facts_[12] = {};
    QComboBox* device_;
    QComboBox* precision_;
    QSpinBox* context_;
    QLabel* memory_;
    QPushButton* useCpu_;
    QProgressBar* progress_;
    QLabel* progressText_;
    QPushButton* cancel_;
};

} // namespace glq::ui
