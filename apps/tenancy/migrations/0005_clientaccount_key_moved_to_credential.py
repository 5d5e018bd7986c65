# Client accounts reach CallRail through a credential (issue 20). Step 3 of 3: every account has one now
# (credentials.0002); its own key, authentication, base URL and connection id columns go.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('credentials', '0002_keys_from_client_accounts'),
        ('tenancy', '0004_clientaccount_credential'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='clientaccount',
            name='api_key',
        ),
        migrations.RemoveField(
            model_name='clientaccount',
            name='auth_mode',
        ),
        migrations.RemoveField(
            model_name='clientaccount',
            name='base_url',
        ),
        migrations.RemoveField(
            model_name='clientaccount',
            name='connection_id',
        ),
        migrations.AlterField(
            model_name='clientaccount',
            name='credential',
            field=models.ForeignKey(help_text='The key (and destination) the portal reaches this account with.', on_delete=django.db.models.deletion.PROTECT, related_name='client_accounts', to='credentials.credential'),
        ),
    ]
