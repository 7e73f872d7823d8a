-- A deletion holds its tenant's operation claim too (src/control/deletion.ts): a delete is
-- refused while a move, restore, backup or promotion is under way, and none of them starts on a
-- tenant being deleted.
ALTER TABLE tenant_operations DROP CONSTRAINT tenant_operations_kind_check;
ALTER TABLE tenant_operations ADD CONSTRAINT tenant_operations_kind_check CHECK (kind IN ('move', 'restore', 'backup', 'branch', 'delete'));
