"""digests: deliveries per kind, period and recipient

Revision ID: 0008_digests
Revises: 0007_complaints
Create Date: 2026-11-21

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008_digests'
down_revision: Union[str, Sequence[str], None] = '0007_complaints'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # The sender's claims (portal/mail/delivery.py): who holds a message in
    # "sending", and until when.
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))

    op.create_table('digest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('queued', sa.Integer(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_runs')),
    sa.UniqueConstraint('kind', 'period', name=op.f('uq_digest_runs_kind')),
    )
    op.create_table('leader_deputies',
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['leader_id'], ['leaders.id'], name=op.f('fk_leader_deputies_leader_id_leaders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('leader_id', name=op.f('pk_leader_deputies')),
    )


def downgrade() -> None:
    op.drop_table('leader_deputies')
    op.drop_table('digest_runs')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
